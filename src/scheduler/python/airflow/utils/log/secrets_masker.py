"""airflow.utils.log.secrets_masker: mask_secret registers a value the scheduler masks
("***") in this try's rendered template fields (docs/scheduler.md, "Rendered templates")."""
from airflow._runtime import mask_secret, should_hide_value_for_key  # noqa: F401
