from airflow._core import (AirflowException, AirflowFailException, AirflowNotFoundException,  # noqa: F401
                           AirflowSensorTimeout, AirflowSkipException, DuplicateTaskIdFound)
