from airflow._core import BaseSensorOperator, PokeReturnValue  # noqa: F401
