import time
from datetime import datetime

from airflow import DAG

time.sleep(600)

DAG("slow_parse", start_date=datetime(2026, 1, 1))
