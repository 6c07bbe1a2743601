from airflow._core import TaskGroup  # noqa: F401
