"""Running one task of a parsed DAG: the context, XCom, skips, sensors.

The runner reads the try's context (run, params, upstream XComs, variables)
from a JSON file and writes what the try produced (XComs, tasks to skip,
variables set, rendered templates) to another; the scheduler stores them.
"""
import datetime as _dt
import inspect
import json
import logging
import os
import subprocess
import sys
import time

from airflow import _core

_state = {"ctx": {}, "xcoms": [], "skip": [], "variables": {}, "rendered": {}, "rendered_fields": None,
          "masks": set()}


def setup(ctx):
    _state["ctx"] = ctx


def output():
    # rendered_fields: the operator's template fields as rendered (None: the try ended before
    # rendering); masks: the secrets this try read, which the scheduler masks in them (rendered.h).
    return {"xcoms": _state["xcoms"], "skip": sorted(set(_state["skip"])), "variables": _state["variables"],
            "rendered": _state["rendered"], "rendered_fields": _state["rendered_fields"],
            "masks": sorted(_state["masks"])}


# ---- secrets (Airflow's secrets masker) ------------------------------------

# Airflow 2.10's DEFAULT_SENSITIVE_FIELDS: a Variable or extra key whose name contains one is a secret.
_SENSITIVE = ("access_token", "api_key", "apikey", "authorization", "passphrase", "passwd", "password",
              "private_key", "secret", "token", "keyfile_dict", "service_account")


def should_hide_value_for_key(name):
    return isinstance(name, str) and any(word in name.strip().lower() for word in _SENSITIVE)


def mask_secret(secret, name=None):
    """Registers `secret` for masking: with a name, only when the name is sensitive; a dict by its keys."""
    if not secret:
        return
    if isinstance(secret, dict):
        for key, value in secret.items():
            mask_secret(value, key)
    elif isinstance(secret, str):
        if name is None or should_hide_value_for_key(name):
            _state["masks"].add(secret)
    elif isinstance(secret, (list, tuple, set)):
        for value in secret:
            mask_secret(value, name)


def template_fields_of(values):
    """An operator's rendered template fields as JSON values (others as text, as Airflow stores them)."""
    out = {}
    for name, value in values.items():
        try:
            json.dumps(value)
            out[name] = list(value) if isinstance(value, tuple) else value
        except (TypeError, ValueError):
            out[name] = str(value)
    return out


# ---- dates and macros ------------------------------------------------------

def _parse_ts(text):
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class _Macros:
    datetime = _dt.datetime
    timedelta = _dt.timedelta
    json = json
    time = time

    def __init__(self, extra):
        import random
        import uuid
        self.random = random.random
        self.uuid = uuid
        for k, v in extra.items():
            setattr(self, k, v)

    @staticmethod
    def ds_add(ds, days):
        if not days:
            return str(ds)
        return (_dt.datetime.strptime(str(ds), "%Y-%m-%d") + _dt.timedelta(days=days)).strftime("%Y-%m-%d")

    @staticmethod
    def ds_format(ds, input_format, output_format):
        return _dt.datetime.strptime(str(ds), input_format).strftime(output_format)


class _VarAccessor:
    def __init__(self, deserialize):
        self._deserialize = deserialize

    def __getattr__(self, key):
        if key.startswith("__"):
            raise AttributeError(key)
        return _core.Variable.get(key, deserialize_json=self._deserialize)

    def get(self, key, default=None):
        return _core.Variable.get(key, default_var=default, deserialize_json=self._deserialize)


class _ConnAccessor:
    def __getattr__(self, key):
        if key.startswith("__"):
            raise AttributeError(key)
        return connection(key)

    def get(self, key, default=None):
        try:
            return connection(key)
        except _core.AirflowNotFoundException:
            return default


class DagRun:
    def __init__(self, ctx, dag):
        self.dag_id = ctx["dag_id"]
        self.run_id = ctx["run_id"]
        self.run_type = ctx.get("run_type", "manual")
        self.conf = ctx.get("conf") or {}
        self.logical_date = self.execution_date = _parse_ts(ctx["logical_date"])
        self.data_interval_start = _parse_ts(ctx["data_interval_start"])
        self.data_interval_end = _parse_ts(ctx["data_interval_end"])
        self.external_trigger = self.run_type == "manual"
        self.dag = dag

    def __repr__(self):
        return f"<DagRun {self.dag_id} @ {self.logical_date}: {self.run_id}>"


class TaskInstance:
    def __init__(self, ctx, task):
        self.task = task
        self.task_id = task.task_id
        self.dag_id = ctx["dag_id"]
        self.run_id = ctx["run_id"]
        self.try_number = ctx["try_number"]
        self.max_tries = ctx.get("max_tries", 1) - 1
        self.map_index = ctx.get("map_index", -1)
        self.hostname = ctx.get("hostname", "")
        self.logical_date = self.execution_date = _parse_ts(ctx["logical_date"])
        self.state = "running"

    def xcom_push(self, key, value, execution_date=None):
        push(key, value)

    def xcom_pull(self, task_ids=None, dag_id=None, key="return_value", include_prior_dates=False, map_indexes=None,
                  default=None):
        if dag_id not in (None, self.dag_id):
            raise _core.AirflowException("xcom_pull from another DAG is not supported by millrace")
        if isinstance(task_ids, str):
            return pull(task_ids, key, default)
        if task_ids is None:
            # Airflow: the newest value of that key from any task of the run.
            found = [x for x in _state["ctx"].get("xcoms", []) if x["key"] == key]
            return found[-1]["value"] if found else default
        return [pull(t, key, default) for t in task_ids]

    def __repr__(self):
        return f"<TaskInstance: {self.dag_id}.{self.task_id} {self.run_id} [running]>"


def pull(task_id, key="return_value", default=None):
    for x in reversed(_state["xcoms"]):
        if x["task_id"] == task_id and x["key"] == key:
            return x["value"]
    for x in _state["ctx"].get("xcoms", []):
        if x["task_id"] == task_id and x["key"] == key:
            return x["value"]
    return default


def push(key, value):
    try:
        text = json.dumps(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"XCom value for key '{key}' of task '{_state['ctx'].get('task_id')}' is not "
                        f"JSON-serialisable ({type(value).__name__}): {e}") from None
    _state["xcoms"] = [x for x in _state["xcoms"] if x["key"] != key]
    _state["xcoms"].append({"task_id": _state["ctx"].get("task_id"), "key": key, "value": json.loads(text)})


def variable(key):
    if key in _state["variables"]:
        value = _state["variables"][key]
    else:
        value = os.environ.get("AIRFLOW_VAR_" + key.upper())
        if value is None:
            value = (_state["ctx"].get("variables") or {}).get(key)
    if isinstance(value, str):
        mask_secret(value, key)  # as Variable.get: the value of a sensitive name is masked
    return value


def set_variable(key, value):
    _state["variables"][key] = value


def connection(conn_id):
    env = os.environ.get("AIRFLOW_CONN_" + conn_id.upper())
    if env is None:
        stored = (_state["ctx"].get("connections") or {}).get(conn_id)
        if stored is None:
            raise _core.AirflowNotFoundException(f"The conn_id `{conn_id}` isn't defined")
        env = stored
    env = env.strip()
    if env.startswith("{"):
        data = json.loads(env)
        extra = data.get("extra")
        conn = _core.Connection(conn_id=conn_id, conn_type=data.get("conn_type"), host=data.get("host"),
                                login=data.get("login"), password=data.get("password"), schema=data.get("schema"),
                                port=data.get("port"), extra=json.dumps(extra) if isinstance(extra, dict) else extra)
    else:
        conn = _core.Connection(conn_id=conn_id, uri=env)
    # As Airflow: a connection's password always, its extra's values under sensitive keys.
    mask_secret(conn.password)
    mask_secret(conn.extra_dejson)
    return conn


def build_context(dag, task):
    ctx = _state["ctx"]
    params = {}
    for name, value in dag.params.items():
        params[name] = value.value if isinstance(value, _core.Param) else value
    for name, value in task.params.items():
        params[name] = value.value if isinstance(value, _core.Param) else value
    conf = ctx.get("conf") or {}
    params.update(conf)  # dag_run_conf_overrides_params (the scheduler checked the names and types)
    run = DagRun(ctx, dag)
    ti = TaskInstance(ctx, task)
    logical = run.logical_date
    ds = ctx["ds"]
    context = {
        "dag": dag, "task": task, "ti": ti, "task_instance": ti, "dag_run": run, "run_id": run.run_id,
        "ds": ds, "ds_nodash": ds.replace("-", ""), "ts": ctx["logical_date"],
        "ts_nodash": logical.strftime("%Y%m%dT%H%M%S"), "ts_nodash_with_tz": ctx["logical_date"].replace("-", "").replace(":", ""),
        "logical_date": logical, "execution_date": logical,
        "data_interval_start": run.data_interval_start, "data_interval_end": run.data_interval_end,
        "params": _core.ParamsDict(params), "macros": _Macros(dag.user_defined_macros),
        "var": {"value": _VarAccessor(False), "json": _VarAccessor(True)}, "conn": _ConnAccessor(),
        "test_mode": False, "inlets": [], "outlets": [], "map_index_template": None,
        "templates_dict": None, "triggering_dataset_events": {},
    }
    context.update(dag.user_defined_macros)
    return context


# ---- templates -------------------------------------------------------------

def render(value, context, path=""):
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        import jinja2
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, cache_size=0)
        out = env.from_string(value).render(**context)
        _state["rendered"][path] = out
        return out
    if isinstance(value, (list, tuple)):
        return type(value)(render(v, context, f"{path}[{i}]") for i, v in enumerate(value))
    if isinstance(value, dict):
        return {k: render(v, context, f"{path}.{k}") for k, v in value.items()}
    return value


def render_placeholders(placeholders, context):
    """Each "{{ expression }}" of a bash_command evaluated alone by jinja2, as text."""
    values = []
    for index, source in enumerate(placeholders):
        import jinja2
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, cache_size=0)
        value = env.from_string(source).render(**context)
        _state["rendered"][f"bash_command {source}"] = value
        values.append(value)
    return values


def resolve(value, context):
    """XComArgs and @dag parameters in a task's arguments become their values."""
    if isinstance(value, _core.XComArg):
        found = pull(value.operator.task_id, value.key, _MISSING)
        if found is _MISSING:
            raise _core.AirflowException(f"XCom '{value.key}' of task '{value.operator.task_id}' does not exist "
                                         "(did that task push it, or was it skipped?)")
        return found
    if isinstance(value, _core._DagParamRef):
        return context["params"].get(value.name, value.default)
    if isinstance(value, (list, tuple)):
        return type(value)(resolve(v, context) for v in value)
    if isinstance(value, dict):
        return {k: resolve(v, context) for k, v in value.items()}
    return value


_MISSING = object()


def call_python(op, context, push_result=True, push=True):
    args = resolve(op.op_args, context)
    kwargs = resolve(op.op_kwargs, context)
    args = render(list(args), context, "op_args")
    kwargs = render(dict(kwargs), context, "op_kwargs")
    templates_dict = None
    if getattr(op, "templates_dict", None) is not None:
        templates_dict = render(op.templates_dict, context, "templates_dict")
        context["templates_dict"] = templates_dict
    _state["rendered_fields"] = template_fields_of({"templates_dict": templates_dict, "op_args": args, "op_kwargs": kwargs})
    fn = op.python_callable
    sig = inspect.signature(fn)
    has_var_kw = any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
    if has_var_kw:
        call_kwargs = {**context, **kwargs}
    else:
        positional = [p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        bound_by_args = {p.name for p in positional[:len(args)]}
        call_kwargs = {n: v for n, v in context.items() if n in sig.parameters and n not in bound_by_args}
        call_kwargs.update(kwargs)
    result = fn(*args, **call_kwargs)
    if not push:
        return result
    logging.getLogger("airflow.task").info("Done. Returned value was: %s", result)
    store_return(op, result)
    return result


def store_return(op, result):
    if not op.do_xcom_push or result is None:
        return
    if op.multiple_outputs:
        if not isinstance(result, dict):
            raise TypeError(f"Returned output was type {type(result)} expected dictionary for multiple_outputs")
        for k, v in result.items():
            push(str(k), v)
    push("return_value", result)


def _downstream_closure(dag, task_ids):
    seen, todo = set(), list(task_ids)
    while todo:
        t = todo.pop()
        if t in seen:
            continue
        seen.add(t)
        todo.extend(dag.task_dict[t].downstream_task_ids)
    return seen


def skip_all_except(op, context, chosen):
    if chosen is None:
        chosen = []
    chosen = [chosen] if isinstance(chosen, str) else list(chosen)
    dag = op.dag
    valid = set(op.downstream_task_ids)
    resolved = set()
    for c in chosen:
        if c in dag.task_dict:
            resolved.add(c)
            continue
        # A TaskGroup id selects the group's root tasks.
        roots = [t for t in valid if t.startswith(c + ".")]
        if not roots:
            raise _core.AirflowException(f"'branch_task_ids' must contain only valid task_ids. "
                                         f"Invalid tasks found: {{{c!r}}}.")
        resolved.update(roots)
    for c in resolved:
        if c not in valid:
            raise _core.AirflowException(f"'branch_task_ids' must contain only downstream task_ids of "
                                         f"'{op.task_id}'. Invalid tasks found: {{{c!r}}}.")
    skip = sorted(valid - resolved)
    logging.getLogger("airflow.task").info("Branch into %s; skipping %s", sorted(resolved), skip)
    _state["skip"].extend(skip)


def short_circuit(op, context):
    if op.ignore_downstream_trigger_rules:
        skip = sorted(_downstream_closure(op.dag, op.downstream_task_ids))
    else:
        skip = sorted(op.downstream_task_ids)
    logging.getLogger("airflow.task").info("Condition result is False; skipping downstream tasks %s", skip)
    _state["skip"].extend(skip)


def run_sensor(op, context):
    log = logging.getLogger("airflow.task")
    started = time.monotonic()
    while True:
        result = op.poke(context)
        done = result.is_done if isinstance(result, _core.PokeReturnValue) else bool(result)
        if done:
            value = result.xcom_value if isinstance(result, _core.PokeReturnValue) else None
            log.info("Success criteria met. Exiting.")
            if value is not None:
                store_return(op, value)
            return value
        if time.monotonic() - started + op.poke_interval > op.timeout:
            message = f"Sensor has timed out; run duration of {time.monotonic() - started:.1f} seconds exceeds the specified timeout of {op.timeout}."
            if op.soft_fail:
                raise _core.AirflowSkipException(message)
            raise _core.AirflowSensorTimeout(message)
        log.info("Poking: condition not met; next poke in %s seconds", op.poke_interval)
        time.sleep(op.poke_interval)


def run_task_bash(op, context):
    """@task.bash: the function's return value is the command; run with bash like a BashOperator."""
    command = call_python(op, context, push=False)
    if not isinstance(command, str) or not command.strip():
        raise TypeError(f"The returned value from the TaskFlow callable must be a non-empty string, got {command!r}")
    # Not rendered with Jinja (Airflow does): a run's conf would become shell syntax (docs/security.md).
    _state["rendered"]["bash_command"] = command
    _state["rendered_fields"] = {**(_state["rendered_fields"] or {}),
                                 **template_fields_of({"bash_command": command, "env": getattr(op, "env", None),
                                                           "cwd": getattr(op, "cwd", None)})}
    logging.getLogger("airflow.task").info("Running command: %s", command)
    sys.stdout.flush()
    sys.stderr.flush()
    proc = subprocess.run(["bash", "-c", command], stdout=subprocess.PIPE, stderr=None, text=True)
    last = ""
    for line in proc.stdout.splitlines():
        print(line, flush=True)
        last = line
    if proc.returncode == 99:
        raise _core.AirflowSkipException("Bash command returned exit code 99. Skipping.")
    if proc.returncode != 0:
        raise _core.AirflowException(f"Bash command failed. The command returned a non-zero exit code {proc.returncode}.")
    store_return(op, last)
    return last
