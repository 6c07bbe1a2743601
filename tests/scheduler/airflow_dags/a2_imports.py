"""Airflow 2 import paths, dependencies in every style, DAG-level settings."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from airflow.models.baseoperator import chain, cross_downstream
from airflow.models.dag import DAG
from airflow.models.param import Param
from airflow.operators.bash import BashOperator
from airflow.operators.dummy import DummyOperator
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import PythonOperator
from airflow.sensors.python import PythonSensor
from airflow.utils.task_group import TaskGroup
from airflow.utils.trigger_rule import TriggerRule

default_args = {
    "owner": "data-team",
    "retries": 2,
    "retry_delay": timedelta(seconds=7),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=3),
    "execution_timeout": timedelta(minutes=10),
}

with DAG(
    dag_id="a2_imports",
    description="every Airflow 2 import path",
    doc_md="# a2\nSome *markdown*.",
    schedule="30 2 * * *",
    start_date=datetime(2026, 3, 1, tzinfo=ZoneInfo("Europe/Berlin")),
    end_date=datetime(2026, 12, 31, tzinfo=ZoneInfo("Europe/Berlin")),
    catchup=False,
    max_active_runs=2,
    tags=["corpus", "a2"],
    params={"n": Param(3, type="integer"), "who": "world"},
    default_args=default_args,
) as dag:
    start = EmptyOperator(task_id="start")
    legacy = DummyOperator(task_id="legacy")
    a = BashOperator(task_id="a", bash_command="echo a")
    b = BashOperator(task_id="b", bash_command="echo b", retries=0)
    c = PythonOperator(task_id="c", python_callable=lambda: 1, trigger_rule=TriggerRule.ALL_DONE)
    d = EmptyOperator(task_id="d")
    e = EmptyOperator(task_id="e")
    f = EmptyOperator(task_id="f")
    g = EmptyOperator(task_id="g")
    h = EmptyOperator(task_id="h")
    sense = PythonSensor(task_id="sense", python_callable=lambda: True, poke_interval=1, timeout=5)
    with TaskGroup("grp") as grp:
        inner1 = EmptyOperator(task_id="inner1")
        inner2 = EmptyOperator(task_id="inner2")
        inner1 >> inner2

    start >> legacy >> [a, b]
    c << [a, b]
    d.set_upstream(c)
    c.set_downstream(e)
    chain(d, [f, g], h)
    cross_downstream([e, h], [sense, grp])
