from airflow._core import DummyOperator, EmptyOperator  # noqa: F401
