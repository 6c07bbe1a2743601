from airflow._core import PythonSensor  # noqa: F401
