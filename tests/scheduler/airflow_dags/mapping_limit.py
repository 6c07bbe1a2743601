"""Dynamic task mapping with max_active_tis_per_dag=1: the instances run one
at a time (each holds a lock file while it runs; a second holder fails)."""
import os
import time
from datetime import datetime

from airflow import DAG
from airflow.decorators import task

OUT = os.environ.get("TEST_AIRFLOW_OUT", "/tmp")


with DAG("mapping_limit", schedule=None, start_date=datetime(2026, 1, 1)) as dag:

    @task(max_active_tis_per_dag=1)
    def one_at_a_time(n, ti=None):
        lock = os.path.join(OUT, f"mapping_limit_{ti.run_id}.lock")
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # FileExistsError: another instance runs
        try:
            time.sleep(0.3)  # holds the slot long enough for an unbounded sibling to collide
            return n
        finally:
            os.close(fd)
            os.unlink(lock)

    one_at_a_time.expand(n=[1, 2, 3, 4])
