"""Dynamic task mapping: literal lists and dicts, partial+expand on classic
operators, TaskFlow mapped over an upstream's returned list, several mapped
arguments (a cartesian product), expand_kwargs, a reduce over the results,
an expansion over nothing (skipped), and a branch skipping a mapped task's instances."""
from datetime import datetime

from airflow import DAG
from airflow.decorators import task
from airflow.operators.bash import BashOperator
from airflow.operators.empty import EmptyOperator
from airflow.operators.python import PythonOperator


def square(x):
    return x * x


def greet(name, punctuation="!"):
    return f"hello {name}{punctuation}"


with DAG("mapping", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    # Classic operators: partial() holds what the instances share.
    echo = BashOperator.partial(task_id="echo").expand(
        bash_command=["echo one", "echo two", 'echo "map {{ ti.map_index }} of {{ ds }}"'])
    squares = PythonOperator.partial(task_id="squares", python_callable=square).expand(op_args=[[1], [2], [3]])
    greetings = PythonOperator.partial(task_id="greetings", python_callable=greet).expand_kwargs(
        [{"op_kwargs": {"name": "ada"}}, {"op_kwargs": {"name": "bob", "punctuation": "."}}])

    # TaskFlow over an upstream's returned list, with a partial argument.
    @task
    def numbers():
        return [1, 2, 3, 4]

    @task
    def add(x, y):
        return x + y

    added = add.partial(y=10).expand(x=numbers())

    # A reduce: the mapped task's results, in map_index order.
    @task
    def total(values):
        values = list(values)
        print(f"values {values}")
        return sum(values)

    total(added)

    # Two mapped arguments: the cartesian product, the last one varying fastest.
    @task
    def pair(a, b):
        return f"{a}{b}"

    pair.expand(a=[1, 2], b=["x", "y", "z"])

    # A dict: each instance gets a (key, value) pair.
    @task
    def show(kv):
        key, value = kv
        return f"{key}={value}"

    show.expand(kv={"alpha": 1, "beta": 2})

    @task
    def multiply(a, b):
        return a * b

    multiply.expand_kwargs([{"a": 2, "b": 3}, {"a": 4, "b": 5}])

    # Mapped over nothing: skipped, and so is what needs it.
    @task
    def nothing():
        return []

    @task
    def never(x):
        return x

    skipped = never.expand(x=nothing())
    skipped >> EmptyOperator(task_id="after_nothing")

