"""Params with Param types; a trigger's conf overrides them."""
import json
import os
from datetime import datetime

from airflow import DAG
from airflow.models.param import Param
from airflow.operators.python import PythonOperator


def show(params):
    with open(os.path.join(os.environ["TEST_AIRFLOW_OUT"], "params.json"), "w") as f:
        json.dump(dict(params), f, sort_keys=True)


with DAG("params_conf", schedule=None, start_date=datetime(2026, 1, 1),
         params={"count": Param(5, type="integer", minimum=1), "ratio": Param(0.5, type="number"),
                 "name": Param("x", type="string"), "full": False, "tags": Param(["a"], type="array")}) as dag:
    PythonOperator(task_id="show", python_callable=show)
