"""Each trigger rule after one failed and one successful upstream."""
from datetime import datetime

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator

with DAG("trigger_rules", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    ok = BashOperator(task_id="ok", bash_command="true")
    bad = BashOperator(task_id="bad", bash_command="exit 3")
    rules = ["all_success", "all_failed", "all_done", "one_success", "one_failed", "none_failed", "always",
             "none_failed_min_one_success", "none_skipped", "one_done"]
    for rule in rules:
        [ok, bad] >> EmptyOperator(task_id=f"after_{rule}", trigger_rule=rule)
    only_ok = EmptyOperator(task_id="only_ok_all_failed", trigger_rule="all_failed")
    ok >> only_ok
    cleanup = EmptyOperator(task_id="cleanup", trigger_rule="all_done")
    bad >> cleanup
