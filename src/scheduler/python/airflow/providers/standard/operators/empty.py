from airflow._core import EmptyOperator  # noqa: F401
