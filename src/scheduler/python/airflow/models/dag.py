from airflow._core import DAG  # noqa: F401
