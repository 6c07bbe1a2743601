from datetime import datetime

from airflow import DAG
from airflow.providers.amazon.aws.operators.s3 import S3CreateBucketOperator

with DAG("unsupported_import", start_date=datetime(2026, 1, 1)) as dag:
    S3CreateBucketOperator(task_id="bucket", bucket_name="x")
