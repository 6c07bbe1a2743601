from airflow._core import Variable  # noqa: F401
