"""BranchPythonOperator, @task.branch, ShortCircuitOperator, @task.short_circuit."""
from datetime import datetime

from airflow import DAG
from airflow.decorators import task
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import BranchPythonOperator, ShortCircuitOperator

with DAG("branching", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    pick = BranchPythonOperator(task_id="pick", python_callable=lambda params: f"path_{params['path']}",
                                params={"path": "b"})
    path_a = EmptyOperator(task_id="path_a")
    path_b = EmptyOperator(task_id="path_b")
    after_a = EmptyOperator(task_id="after_a")
    join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
    pick >> [path_a, path_b]
    path_a >> after_a >> join
    path_b >> join

    @task.branch
    def choose():
        return ["left", "middle"]

    left, middle, right = (EmptyOperator(task_id=t) for t in ("left", "middle", "right"))
    choose() >> [left, middle, right]

    gate = ShortCircuitOperator(task_id="gate", python_callable=lambda: 0)
    gated = EmptyOperator(task_id="gated")
    gated_all_done = EmptyOperator(task_id="gated_all_done", trigger_rule="all_done")
    gate >> gated >> gated_all_done

    @task.short_circuit
    def open_gate():
        return "yes"

    open_gate() >> EmptyOperator(task_id="passed")
