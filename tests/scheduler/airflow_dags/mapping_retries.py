"""Dynamic task mapping: one mapped instance fails its first try and is
retried alone; the downstream reduce waits for every instance; a branch not
taken skips the instances of a mapped task (Airflow 2.10.5 runs them: its
branch skips map index -1 only, so this file is not in the compat run)."""
import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.decorators import task

OUT = os.environ.get("TEST_AIRFLOW_OUT", "/tmp")


with DAG("mapping_retries", schedule=None, start_date=datetime(2026, 1, 1),
         default_args={"retries": 1, "retry_delay": timedelta(seconds=0)}) as dag:

    @task
    def work(n, ti=None):
        marker = os.path.join(OUT, f"mapping_retries_{n}_{ti.run_id}")
        with open(marker, "a") as f:
            f.write(f"try {ti.try_number} map_index {ti.map_index}\n")
        if n == 2 and ti.try_number == 1:
            raise ValueError("instance 1 fails its first try")
        return n * 100

    @task
    def reduce(values):
        return sum(values)

    reduce(work.expand(n=[1, 2, 3]))

    @task
    def always_fails(n):
        raise ValueError(f"always {n}")

    @task(trigger_rule="all_done")
    def cleanup():
        return "cleaned"

    failing = always_fails.override(retries=0).expand(n=[1, 2])

    @task
    def add_up(a, b):
        return a + b

    # Airflow: an expand_kwargs element may not set an argument partial() set; the instance fails.
    duplicate = add_up.override(retries=0).partial(a=1).expand_kwargs([{"a": 2, "b": 3}])
    [failing, duplicate] >> cleanup()

    # A branch not taken: the instances of the mapped task (expanded over a literal) are skipped.
    @task.branch
    def choose():
        return "chosen"

    @task
    def chosen():
        return "yes"

    @task
    def not_chosen(x):
        return x

    choose() >> [chosen(), not_chosen.expand(x=[1, 2])]
