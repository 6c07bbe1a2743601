"""execution_timeout kills a Python task and a Bash task (their process groups)."""
import time
from datetime import datetime, timedelta

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator


def hang():
    print("sleeping", flush=True)
    time.sleep(600)


with DAG("timeouts", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    PythonOperator(task_id="py_hang", python_callable=hang, execution_timeout=timedelta(seconds=1))
    BashOperator(task_id="bash_hang", bash_command="sleep 600", execution_timeout=timedelta(seconds=1))
