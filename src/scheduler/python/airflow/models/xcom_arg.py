from airflow._core import XComArg  # noqa: F401
