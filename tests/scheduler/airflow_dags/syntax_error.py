from datetime import datetime

from airflow import DAG

with DAG("syntax_error", start_date=datetime(2026, 1, 1)) as dag
    pass
