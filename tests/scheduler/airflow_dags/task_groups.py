"""Nested TaskGroups (ids prefixed as Airflow does) and @task_group."""
from datetime import datetime

from airflow import DAG
from airflow.decorators import task, task_group
from airflow.operators.empty import EmptyOperator
from airflow.utils.task_group import TaskGroup

with DAG("task_groups", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    start = EmptyOperator(task_id="start")
    with TaskGroup("outer") as outer:
        first = EmptyOperator(task_id="first")
        with TaskGroup("inner") as inner:
            deep = EmptyOperator(task_id="deep")
        with TaskGroup("flat", prefix_group_id=False):
            loose = EmptyOperator(task_id="loose")
        first >> inner >> loose

    @task_group
    def numbers():
        @task
        def one():
            return 1

        @task
        def plus(x):
            return x + 1

        plus(one())

    end = EmptyOperator(task_id="end")
    start >> outer >> numbers() >> end
