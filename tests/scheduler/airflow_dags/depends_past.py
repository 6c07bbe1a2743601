"""depends_on_past (from default_args) and wait_for_downstream: a task runs only
once the same task of the previous run (by logical date) succeeded or was
skipped; with wait_for_downstream, also once that instance's direct downstreams
did."""
import os
from datetime import datetime

from airflow import DAG
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import PythonOperator

OUT = os.environ.get("TEST_AIRFLOW_OUT", "/tmp")


def gate(ti, ds):
    # Fails while the flag file exists; each try leaves a mark.
    open(os.path.join(OUT, f"{ti.task_id}_{ds}"), "w").write(ds)
    if os.path.exists(os.path.join(OUT, "depends_past_fail")):
        raise ValueError(f"{ti.task_id} of {ds} told to fail")
    return ds


with DAG("depends_past", schedule=None, start_date=datetime(2026, 1, 1),
         default_args={"depends_on_past": True}) as dag:
    waits = EmptyOperator(task_id="waits", wait_for_downstream=True)
    g = PythonOperator(task_id="gate", python_callable=gate)
    after = EmptyOperator(task_id="after", depends_on_past=False)
    waits >> g >> after
    PythonOperator(task_id="gate2", python_callable=gate)
    EmptyOperator(task_id="free", depends_on_past=False)
