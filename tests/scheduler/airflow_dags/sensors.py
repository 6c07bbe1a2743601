"""PythonSensor and @task.sensor in poke mode: one satisfied, one timing out."""
import os
from datetime import datetime

from airflow import DAG
from airflow.decorators import task
from airflow.operators.bash import BashOperator
from airflow.sensors.base import PokeReturnValue
from airflow.sensors.python import PythonSensor

OUT = os.environ.get("TEST_AIRFLOW_OUT", "/tmp")
FLAG = os.path.join(OUT, "sensor_flag")
COUNT = os.path.join(OUT, "sensor_pokes")


def flag_after_three_pokes():
    n = int(open(COUNT).read()) + 1 if os.path.exists(COUNT) else 1
    with open(COUNT, "w") as f:
        f.write(str(n))
    if n >= 3:
        open(FLAG, "w").close()
    return os.path.exists(FLAG)


with DAG("sensors", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    wait = PythonSensor(task_id="wait_for_flag", python_callable=flag_after_three_pokes, poke_interval=0.05, timeout=60)
    never = PythonSensor(task_id="never", python_callable=lambda: False, poke_interval=0.05, timeout=0.3, retries=3)

    @task.sensor(poke_interval=0.05, timeout=30)
    def flag_seen() -> PokeReturnValue:
        return PokeReturnValue(is_done=os.path.exists(FLAG), xcom_value="seen")

    wait >> flag_seen() >> BashOperator(task_id="after", bash_command="echo sensed")

    @task.sensor(poke_interval=0.05, timeout=0.2, soft_fail=True)
    def soft():
        return False

    soft()
