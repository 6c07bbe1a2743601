"""BashOperator with Jinja: each {{ }} is evaluated by jinja2 (macros, filters, any expression) and its
result reaches bash as data; a {% %} statement is refused, an undefined name fails the try."""
import os
from datetime import datetime

from airflow import DAG
from airflow.operators.bash import BashOperator

OUT = os.environ.get("TEST_AIRFLOW_OUT", "/tmp")

with DAG("bash_jinja", schedule=None, start_date=datetime(2026, 1, 1), params={"name": "ada", "msg": "hello"}) as dag:
    macros = BashOperator(task_id="macros", bash_command="echo {{ macros.ds_add(ds, 1) }} {{ ds_nodash }} > bash_jinja_macros.txt",
                          cwd=OUT)
    filters = BashOperator(task_id="filters",
                           bash_command="echo \"{{ params.name | upper }}-{{ dag_run.conf.get('n', 0) + 1 }}\" > bash_jinja_filters.txt",
                           cwd=OUT)
    # A run's conf (params.msg) is hostile: filtered, concatenated with more shell text, it stays data.
    hostile = BashOperator(task_id="hostile",
                           bash_command="printf '%s|' {{ params.msg | lower }} > bash_jinja_hostile.txt; "
                                        "echo {{ dag_run.conf.msg ~ ' $(touch MARKER3)' }} >> bash_jinja_hostile.txt",
                           cwd=OUT)
    statement = BashOperator(task_id="statement", bash_command="{% if params.name %}echo yes{% endif %}")
    undefined = BashOperator(task_id="undefined", bash_command="echo {{ no_such_name }}")
