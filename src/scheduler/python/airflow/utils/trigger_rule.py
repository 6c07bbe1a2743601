from airflow._core import TriggerRule  # noqa: F401
