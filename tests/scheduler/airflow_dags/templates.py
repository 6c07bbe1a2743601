"""Templates: BashOperator through millrace's safe rendering, PythonOperator with Jinja2 and context injection."""
import json
import os
from datetime import datetime

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator

OUT = os.environ.get("TEST_AIRFLOW_OUT", "/tmp")


def record(templates_dict, day, ds, params, dag_run, ti, logical_date):
    data = {"templates_dict": templates_dict, "day": day, "ds": ds, "msg": params["msg"],
            "conf": dag_run.conf, "try": ti.try_number, "year": logical_date.year}
    with open(os.path.join(OUT, "templates_py.json"), "w") as f:
        json.dump(data, f, sort_keys=True)


with DAG("templates", schedule=None, start_date=datetime(2026, 1, 1), params={"msg": "hello"}) as dag:
    bash = BashOperator(
        task_id="bash",
        bash_command='printf "%s|%s|%s|%s" {{ ds }} "{{ params.msg }}" {{ dag_run.conf.msg }} "$GREETING" > templates_bash.txt',
        env={"GREETING": "hi {{ ds_nodash }}"},
        append_env=True,
        cwd=OUT,
    )
    only_env = BashOperator(task_id="only_env", bash_command='echo "HOME=${HOME:-unset} X=$X" > ' + OUT + "/only_env.txt",
                            env={"X": "1"})
    nested = BashOperator(task_id="nested", bash_command="sh -c 'echo {{ params.msg }}'")
    py = PythonOperator(
        task_id="py",
        python_callable=record,
        templates_dict={"tomorrow": "{{ macros.ds_add(ds, 1) }}", "run": "{{ run_id }}"},
        op_kwargs={"day": "{{ logical_date.strftime('%d') }}"},
    )
    bash >> py
