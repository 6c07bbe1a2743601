from airflow._core import DAG, BaseOperator, Param, Variable, Connection, XComArg  # noqa: F401
from airflow._runtime import TaskInstance, DagRun  # noqa: F401
