from airflow._core import BaseOperator, chain, cross_downstream  # noqa: F401
