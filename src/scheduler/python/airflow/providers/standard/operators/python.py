from airflow._core import (BranchPythonOperator, PythonOperator, ShortCircuitOperator,  # noqa: F401
                           _runtime_get_current_context as get_current_context)
