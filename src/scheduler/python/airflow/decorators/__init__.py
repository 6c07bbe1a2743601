from airflow._core import dag, task, task_group  # noqa: F401
