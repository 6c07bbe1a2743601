from airflow._core import BaseHook  # noqa: F401
