// The REST API's shapes (Airflow stable API v1 field names).
export interface Dag {
  dag_id: string;
  description: string | null;
  fileloc: string;
  is_paused: boolean;
  is_active: boolean;
  schedule_interval: { __type: string; value?: string; days?: number; seconds?: number } | null;
  tags: { name: string }[];
  owners: string[];
  timezone: string;
  next_dagrun: string | null;
  last_run_state: string | null;
  last_run_id: string | null;
  has_import_errors: boolean;
  max_active_runs: number;
  catchup: boolean;
  file_token: string;
  doc_md: string | null;
  params?: Record<string, unknown>;
  next_dagrun_data_interval_end?: string | null;
}

export interface XComEntry {
  key: string;
  value: string; // JSON text
}

export interface DagRun {
  dag_id: string;
  dag_run_id: string;
  run_type: string;
  logical_date: string;
  data_interval_start: string;
  data_interval_end: string;
  state: string;
  conf: Record<string, unknown>;
  start_date: string | null;
  end_date: string | null;
  note?: string | null;
}

export interface Task {
  task_id: string;
  operator_name: string;
  upstream_task_ids: string[];
  downstream_task_ids: string[];
  retries: number;
  is_mapped?: boolean;
}

export interface TaskInstance {
  task_id: string;
  dag_run_id: string;
  state: string | null;
  try_number: number;
  max_tries: number;
  start_date: string | null;
  end_date: string | null;
  duration: number | null;
  operator: string;
  hostname: string;
  note: string | null;
  next_retry_at: string | null;
  log_path: string | null;
  map_index: number;
  // The template fields as the instance's try rendered them ({} before it ends).
  rendered_fields?: Record<string, unknown>;
  // A mapped task's instances (the UI's grouping; the row itself is their summary).
  mapped?: TaskInstance[];
}

export interface ImportError {
  import_error_id: number;
  filename: string;
  stack_trace: string;
  timestamp: string;
}

// One try of a task instance (GET .../tries/{n}).
export interface TaskTry {
  task_id: string;
  map_index: number;
  try_number: number;
  state: string | null;
  start_date: string | null;
  end_date: string | null;
  rendered_fields: Record<string, unknown>;
}
