"""millrace's Airflow DAG-file runner (run by `millrace scheduler`).

  python3 millrace_airflow_runner.py parse <dag file> <out.json>
  python3 millrace_airflow_runner.py run <dag file> <dag_id> <task_id> <context.json> <out.json>

`parse` runs the file with the stand-in `airflow` package (next to this file)
and writes the DAGs it declared, or {"error": {"line", "message"}}. `run`
imports the file again and executes one task with an Airflow-like context;
exit codes: 0 success, 1 failure, 98 failure without retries
(AirflowFailException, sensor timeout), 99 skipped (AirflowSkipException).
"""
import datetime as dt
import hashlib
import importlib.util
import json
import logging
import os
import sys
import traceback

EXIT_FAIL, EXIT_NO_RETRY, EXIT_SKIPPED = 1, 98, 99


def load(path):
    path = os.path.abspath(path)
    os.environ["MILLRACE_DAG_FILE"] = path
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(1, folder)  # Airflow puts the DAG folder on sys.path
    from airflow import _core
    _core._reset()
    try:
        import pendulum  # noqa: F401
    except ImportError:
        from airflow import _pendulum
        sys.modules["pendulum"] = _pendulum
    # Airflow's module name for a DAG file, so the file never shadows a real module.
    name = "unusual_prefix_%s_%s" % (hashlib.sha1(path.encode()).hexdigest(),
                                     os.path.splitext(os.path.basename(path))[0])
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    seen = list(_core._dags)
    for value in vars(module).values():
        if isinstance(value, _core.DAG) and value not in seen:
            seen.append(value)
    return seen


def error_line(path, exc):
    path = os.path.abspath(path)
    if isinstance(exc, SyntaxError) and exc.filename and os.path.abspath(exc.filename) == path:
        return exc.lineno or 0
    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.abspath(frame.filename) == path:
            line = frame.lineno
    return line


def seconds(value):
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)):
        return float(value)
    raise TypeError(f"expected a timedelta, got {type(value).__name__} {value!r}")


def zone_name(value):
    tz = value.tzinfo if isinstance(value, dt.datetime) else None
    if tz is None:
        return "UTC"
    for attr in ("key", "name", "zone"):
        name = getattr(tz, attr, None)
        if isinstance(name, str) and name:
            return "UTC" if name in ("+00:00", "Z") else name
    offset = tz.utcoffset(value)
    if offset == dt.timedelta(0):
        return "UTC"
    raise ValueError(f"start_date {value.isoformat()}: a fixed UTC offset is not a time zone; use zoneinfo.ZoneInfo('Area/City')")


def epoch(value, what):
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return int(value.timestamp())


def schedule_of(dag):
    s = dag.schedule
    if s is None:
        return {"cron": ""}
    if isinstance(s, str):
        if s == "@continuous":
            raise ValueError("schedule '@continuous' is not supported by millrace")
        return {"cron": s}
    if isinstance(s, dt.timedelta):
        if s.total_seconds() <= 0:
            raise ValueError(f"schedule {s!r} must be positive")
        return {"interval": s.total_seconds(), "text": str(s)}
    raise ValueError(f"schedule {s!r} ({type(s).__name__}) is not supported by millrace "
                     "(use a cron string, a preset, a timedelta or None)")


def jsonable(value):
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


def topological(dag):
    """The tasks, upstreams first; a cycle is an error naming it (as Airflow's check_cycle)."""
    order, state = [], {}

    def visit(task_id, path):
        if state.get(task_id) == 2:
            return
        if state.get(task_id) == 1:
            cycle = path[path.index(task_id):] + [task_id]
            raise ValueError("Cycle detected in DAG: " + " >> ".join(cycle))
        state[task_id] = 1
        for up in sorted(dag.task_dict[task_id].upstream_task_ids):
            if up not in dag.task_dict:
                raise ValueError(f"task '{task_id}' depends on '{up}', which is not in DAG '{dag.dag_id}'")
            visit(up, path + [up])
        state[task_id] = 2
        order.append(dag.task_dict[task_id])

    for task_id in dag.task_dict:
        visit(task_id, [task_id])
    return order


def describe(dag):
    from airflow import _core
    params = {}
    for name, value in dag.params.items():
        default = value.value if isinstance(value, _core.Param) else value
        params[name] = {"value": jsonable(default), "type": _core._param_type(value),
                        "description": value.description if isinstance(value, _core.Param) else None}
    tasks = []
    for task in topological(dag):
        entry = {
            "task_id": task.task_id, "operator": type(task).__name__, "upstream": sorted(task.upstream_task_ids),
            "trigger_rule": task.trigger_rule, "retries": task.retries, "retry_delay": seconds(task.retry_delay),
            "retry_exponential_backoff": task.retry_exponential_backoff,
            "max_retry_delay": seconds(task.max_retry_delay), "execution_timeout": seconds(task.execution_timeout),
            "owner": task.owner, "depends_on_past": bool(task.depends_on_past),
            "wait_for_downstream": bool(task.wait_for_downstream), "line": task.line,
            "doc_md": task.doc_md, "max_active_tis_per_dag": task.max_active_tis_per_dag,
        }
        entry.update(task._millrace_spec())
        if getattr(task, "_millrace_expand", None) is not None:
            entry["expand"] = task._millrace_expand
        tasks.append(entry)
    start = dag.start_date
    return {
        "dag_id": dag.dag_id, "description": dag.description or "", "doc_md": dag.doc_md or "",
        "schedule": schedule_of(dag), "timezone": zone_name(start) if start is not None else "UTC",
        "start_date": epoch(start, "start_date"), "end_date": epoch(dag.end_date, "end_date"),
        "catchup": dag.catchup, "max_active_runs": dag.max_active_runs,
        "is_paused_upon_creation": bool(dag.is_paused_upon_creation), "tags": [str(t) for t in dag.tags],
        "owners": sorted({t.owner for t in dag.task_dict.values()}) or ["airflow"], "params": params,
        "tasks": tasks, "line": dag.line,
    }


def write(path, data):
    with open(path, "w") as f:
        json.dump(data, f)


class ParseTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise ParseTimeout("parsing took longer than scheduler.dag_parse_timeout "
                       f"({os.environ.get('MILLRACE_PARSE_TIMEOUT_MS')} ms)")


def parse(path, out):
    timeout_ms = int(os.environ.get("MILLRACE_PARSE_TIMEOUT_MS", "0") or 0)
    if timeout_ms > 0:
        import signal
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout_ms / 1000.0)
    try:
        dags = load(path)
        result, ids = [], set()
        for dag in dags:
            if dag.dag_id in ids:
                raise ValueError(f"dag_id '{dag.dag_id}' is declared twice in this file")
            ids.add(dag.dag_id)
            try:
                result.append(describe(dag))
            except Exception as e:
                raise type(e)(f"DAG '{dag.dag_id}': {e}") from None
        write(out, {"dags": result})
    except BaseException as e:  # noqa: B902 - SystemExit and KeyboardInterrupt in a DAG file are errors too
        if isinstance(e, SyntaxError):
            message = f"{type(e).__name__}: {e.msg}"
        else:
            message = " ".join(m.strip() for m in "".join(traceback.format_exception_only(type(e), e)).strip().splitlines())
        write(out, {"error": {"line": error_line(path, e), "message": message}})


def run(path, dag_id, task_id, ctx_path, out):
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="[%(asctime)s] {%(filename)s:%(lineno)d} %(levelname)s - %(message)s")
    from airflow import _core, _runtime
    with open(ctx_path) as f:
        ctx = json.load(f)
    _runtime.setup(ctx)
    code, values = 0, None
    try:
        dags = {d.dag_id: d for d in load(path)}
        if dag_id not in dags:
            raise _core.AirflowException(f"DAG '{dag_id}' is no longer declared in {path}")
        dag = dags[dag_id]
        if task_id not in dag.task_dict:
            raise _core.AirflowException(f"task '{task_id}' is no longer in DAG '{dag_id}'")
        task = dag.task_dict[task_id]
        if "mapped_kwargs" in ctx:
            _core._apply_mapped_kwargs(task, ctx["mapped_kwargs"])
        context = _runtime.build_context(dag, task)
        _core._current_context.append(context)
        if "placeholders" in ctx:
            # A BashOperator's {{ }} placeholders, each evaluated alone; the
            # scheduler passes each result to bash as data (docs/security.md).
            values = _runtime.render_placeholders(ctx["placeholders"], context)
        else:
            task.execute(context)
    except _core.AirflowSkipException as e:
        logging.getLogger("airflow.task").info("Skipping task: %s", e)
        code = EXIT_SKIPPED
    except (_core.AirflowFailException, _core.AirflowSensorTimeout):
        traceback.print_exc()
        code = EXIT_NO_RETRY
    except BaseException:  # noqa: B902
        traceback.print_exc()
        code = EXIT_FAIL
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        data = _runtime.output()
        if values is not None:
            data["values"] = values
        write(out, data)
    except BaseException:  # noqa: B902
        traceback.print_exc()
        code = code or EXIT_FAIL
    return code


def main():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if len(sys.argv) == 4 and sys.argv[1] == "parse":
        parse(sys.argv[2], sys.argv[3])
        return 0
    if len(sys.argv) == 7 and sys.argv[1] == "run":
        return run(*sys.argv[2:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
