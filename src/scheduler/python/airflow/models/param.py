from airflow._core import Param, ParamsDict  # noqa: F401
