"""Airflow 3's authoring interface (airflow.sdk)."""
from airflow._core import (DAG, Asset, BaseHook, BaseOperator, BaseSensorOperator, Connection, Param,  # noqa: F401
                           PokeReturnValue, TaskGroup, TriggerRule, Variable, XComArg, chain, cross_downstream, dag,
                           task, task_group, _runtime_get_current_context as get_current_context)
