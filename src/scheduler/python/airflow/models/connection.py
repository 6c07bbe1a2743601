from airflow._core import Connection  # noqa: F401
