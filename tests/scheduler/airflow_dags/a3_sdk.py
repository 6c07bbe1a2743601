"""Airflow 3 import paths (airflow.sdk, the standard provider) and TaskFlow passing values."""
import json
import os
from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import Param, chain, dag, task


@dag(schedule=timedelta(hours=6), start_date=datetime(2026, 1, 1), catchup=False, tags=["corpus", "a3"],
     params={"factor": Param(2, type="integer")})
def a3_taskflow():
    """TaskFlow: values travel as XComs."""

    @task
    def extract():
        return {"a": 1, "b": [2, 3]}

    @task(multiple_outputs=True)
    def split(data: dict):
        return {"first": data["a"], "rest": data["b"]}

    @task
    def combine(first, rest, params=None):
        return (first + sum(rest)) * params["factor"]

    @task
    def write(total, **context):
        with open(os.path.join(os.environ["TEST_AIRFLOW_OUT"], "a3_total_" + context["run_id"]), "w") as f:
            f.write(json.dumps({"total": total, "run_id": context["run_id"], "ds": context["ds"]}))

    @task.bash
    def shout(total):
        return f"echo total is {total}"

    parts = split(extract())
    total = combine(parts["first"], parts["rest"])
    done = EmptyOperator(task_id="done")
    legacy = PythonOperator(task_id="legacy", python_callable=lambda ti: ti.xcom_pull(task_ids="combine") + 1)
    echo = BashOperator(task_id="echo", bash_command="echo a3 says hi")
    chain(write(total), legacy, [done, echo])
    shout(total)


a3_taskflow()
