"""ti.xcom_push/xcom_pull, a value XCom cannot hold, Variable and BaseHook.get_connection."""
import json
import os
from datetime import datetime

from airflow import DAG
from airflow.hooks.base import BaseHook
from airflow.models import Variable
from airflow.operators.python import PythonOperator


def push(ti):
    ti.xcom_push(key="answer", value={"n": 42, "list": [1, "two"]})
    return "pushed"


def pull(ti):
    answer = ti.xcom_pull(task_ids="push", key="answer")
    returned = ti.xcom_pull(task_ids="push")
    both = ti.xcom_pull(task_ids=["push", "missing"])
    env_conn = BaseHook.get_connection("test_pg")
    json_conn = BaseHook.get_connection("test_json")
    Variable.set("written_by_task", "yes")
    data = {"answer": answer, "returned": returned, "both": both,
            "env_var": Variable.get("from_env"), "db_var": Variable.get("from_db", default_var="missing"),
            "json_var": Variable.get("json_env", deserialize_json=True),
            "default": Variable.get("nope", default_var="fallback"),
            "conn": [env_conn.conn_type, env_conn.host, env_conn.port, env_conn.login, env_conn.password, env_conn.schema],
            "json_conn": [json_conn.conn_type, json_conn.host, json_conn.extra_dejson]}
    with open(os.path.join(os.environ["TEST_AIRFLOW_OUT"], "xcom_vars.json"), "w") as f:
        json.dump(data, f, sort_keys=True)


def bad_value():
    return {1, 2, 3}


with DAG("xcom_vars", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    PythonOperator(task_id="push", python_callable=push) >> PythonOperator(task_id="pull", python_callable=pull)
    PythonOperator(task_id="bad_value", python_callable=bad_value)
