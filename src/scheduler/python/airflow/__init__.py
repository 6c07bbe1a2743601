"""millrace's stand-in for the `airflow` package (see _core.py): enough of
Airflow 2 and 3's DAG-authoring API to parse and run DAG files without
apache-airflow installed. Modules not listed in docs/scheduler.md do not
exist, so importing one raises ImportError naming it."""
__version__ = "2.10.5+millrace"
from airflow._core import DAG, Dataset  # noqa: F401
