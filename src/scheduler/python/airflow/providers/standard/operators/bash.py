from airflow._core import BashOperator  # noqa: F401
