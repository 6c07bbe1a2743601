"""Retries from default_args; AirflowFailException fails without retrying."""
import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.exceptions import AirflowFailException
from airflow.operators.python import PythonOperator

COUNT = os.path.join(os.environ.get("TEST_AIRFLOW_OUT", "/tmp"), "retries_count")


def flaky(ti):
    n = int(open(COUNT).read()) + 1 if os.path.exists(COUNT) else 1
    with open(COUNT, "w") as f:
        f.write(str(n))
    print(f"attempt {n}, try_number {ti.try_number}")
    if n < 3:
        raise ValueError(f"flaky failure {n}")
    return n


def fatal():
    raise AirflowFailException("no point retrying")


with DAG("retries", schedule=None, start_date=datetime(2026, 1, 1),
         default_args={"retries": 2, "retry_delay": timedelta(seconds=0)}) as dag:
    PythonOperator(task_id="flaky", python_callable=flaky)
    PythonOperator(task_id="fatal", python_callable=fatal)
