"""millrace's stand-in for Apache Airflow's DAG-authoring API.

A DAG file runs unchanged with this package first on sys.path: its DAG,
operator, TaskGroup and TaskFlow calls are recorded here, then the runner
(millrace_airflow_runner.py) hands the scheduler what was declared (parse) or
executes one task (run). Pure Python; jinja2 is needed only to render
templated fields of Python tasks.
"""
import datetime as _dt
import functools
import inspect
import json
import os
import sys

# ---- registry --------------------------------------------------------------

_dags = []          # every DAG created while the file ran, in order
_dag_stack = []     # `with DAG(...)` nesting
_group_stack = []   # `with TaskGroup(...)` nesting


def _reset():
    _dags.clear()
    _dag_stack.clear()
    _group_stack.clear()


def _caller_line():
    """The line of the DAG file that declared something (for messages)."""
    fileloc = os.environ.get("MILLRACE_DAG_FILE", "")
    frame = sys._getframe(1)
    while frame is not None:
        if fileloc and os.path.abspath(frame.f_code.co_filename) == fileloc:
            try:  # the first line of a call spread over several lines
                return inspect.getframeinfo(frame).positions.lineno or frame.f_lineno
            except AttributeError:
                return frame.f_lineno
        frame = frame.f_back
    return 0


# ---- exceptions ------------------------------------------------------------

class AirflowException(Exception):
    pass


class AirflowSkipException(AirflowException):
    pass


class AirflowFailException(AirflowException):
    pass


class AirflowSensorTimeout(AirflowException):
    pass


class DuplicateTaskIdFound(AirflowException):
    pass


class AirflowNotFoundException(AirflowException):
    pass


# ---- trigger rules ---------------------------------------------------------

class TriggerRule(str):
    ALL_SUCCESS = "all_success"
    ALL_FAILED = "all_failed"
    ALL_DONE = "all_done"
    ALL_SKIPPED = "all_skipped"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    ONE_DONE = "one_done"
    NONE_FAILED = "none_failed"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    NONE_SKIPPED = "none_skipped"
    ALWAYS = "always"


SUPPORTED_TRIGGER_RULES = {"all_success", "all_failed", "all_done", "all_skipped", "one_success", "one_failed",
                           "one_done", "none_failed", "none_failed_min_one_success", "none_skipped", "always"}


# ---- params ----------------------------------------------------------------

class Param:
    def __init__(self, default=None, description=None, **schema):
        self.value = default
        self.description = description
        self.schema = dict(schema)

    def resolve(self, value=None):
        return self.value if value is None else value

    def dump(self):
        return {"value": self.value, "description": self.description, "schema": self.schema}


class ParamsDict(dict):
    """params as tasks see them: plain values."""


def _param_type(param):
    t = param.schema.get("type") if isinstance(param, Param) else None
    value = param.value if isinstance(param, Param) else param
    if isinstance(t, (list, tuple)):
        t = next((x for x in t if x != "null"), None)
    if t is None:
        if isinstance(value, bool):
            t = "boolean"
        elif isinstance(value, int):
            t = "integer"
        elif isinstance(value, float):
            t = "number"
        elif isinstance(value, str):
            t = "string"
        elif isinstance(value, (list, tuple)):
            t = "array"
        elif isinstance(value, dict):
            t = "object"
        else:
            t = "string"
    return t


# ---- DAG -------------------------------------------------------------------

_UNSET = object()


class DAG:
    def __init__(self, dag_id=None, description=None, schedule=_UNSET, schedule_interval=_UNSET, start_date=None,
                 end_date=None, default_args=None, catchup=None, max_active_runs=16, params=None, tags=None,
                 doc_md=None, is_paused_upon_creation=None, max_active_tasks=16, concurrency=None,
                 dagrun_timeout=None, template_searchpath=None, user_defined_macros=None, render_template_as_native_obj=False,
                 owner_links=None, on_failure_callback=None, on_success_callback=None, access_control=None,
                 default_view=None, orientation=None, sla_miss_callback=None, jinja_environment_kwargs=None,
                 user_defined_filters=None, template_undefined=None, fail_stop=False, dag_display_name=None,
                 **kwargs):
        if kwargs:
            raise TypeError(f"DAG.__init__() got unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        if not dag_id:
            raise AirflowException("DAG requires a dag_id")
        self.dag_id = dag_id
        self.description = description
        if schedule is not _UNSET and schedule_interval is not _UNSET:
            raise AirflowException("You must use either `schedule` or `schedule_interval`, not both")
        self.schedule = schedule if schedule is not _UNSET else (
            schedule_interval if schedule_interval is not _UNSET else _dt.timedelta(days=1))
        self.default_args = dict(default_args or {})
        self.start_date = start_date if start_date is not None else self.default_args.get("start_date")
        self.end_date = end_date if end_date is not None else self.default_args.get("end_date")
        self.catchup = True if catchup is None else bool(catchup)
        self.max_active_runs = max_active_runs
        self.params = {}
        for source in (self.default_args.get("params") or {}, params or {}):
            self.params.update(source)
        self.tags = list(tags or [])
        self.doc_md = doc_md
        self.is_paused_upon_creation = is_paused_upon_creation
        self.user_defined_macros = dict(user_defined_macros or {})
        self.task_dict = {}
        self.fileloc = os.environ.get("MILLRACE_DAG_FILE", "")
        self.line = _caller_line()
        self.on_failure_callback = on_failure_callback
        self.on_success_callback = on_success_callback
        _dags.append(self)

    def __enter__(self):
        _dag_stack.append(self)
        return self

    def __exit__(self, *exc):
        _dag_stack.pop()
        return False

    def __repr__(self):
        return f"<DAG: {self.dag_id}>"

    @property
    def tasks(self):
        return list(self.task_dict.values())

    @property
    def task_ids(self):
        return list(self.task_dict)

    def get_task(self, task_id):
        return self.task_dict[task_id]

    def has_task(self, task_id):
        return task_id in self.task_dict

    @property
    def roots(self):
        return [t for t in self.task_dict.values() if not t.upstream_task_ids]

    @property
    def leaves(self):
        return [t for t in self.task_dict.values() if not t.downstream_task_ids]

    def add_task(self, task):
        if task.task_id in self.task_dict and self.task_dict[task.task_id] is not task:
            raise DuplicateTaskIdFound(f"Task id '{task.task_id}' has already been added to the DAG")
        self.task_dict[task.task_id] = task
        task.dag = self

    def test(self, *args, **kwargs):
        raise AirflowException("dag.test() is not available under millrace; use `millrace tasks test`")

    def cli(self):
        pass


def _current_dag():
    return _dag_stack[-1] if _dag_stack else None


# ---- dependencies ----------------------------------------------------------

class DependencyMixin:
    def _roots(self):
        return [self]

    def _leaves(self):
        return [self]

    def set_downstream(self, other):
        for left in self._leaves():
            for item in _as_list(other):
                for right in item._roots():
                    left._link(right)

    def set_upstream(self, other):
        for item in _as_list(other):
            item.set_downstream(self)

    def __rshift__(self, other):
        self.set_downstream(other)
        return other

    def __lshift__(self, other):
        self.set_upstream(other)
        return other

    def __rrshift__(self, other):
        # [a, b] >> self
        self.set_upstream(other)
        return self

    def __rlshift__(self, other):
        # [a, b] << self
        self.set_downstream(other)
        return self


def _as_list(value):
    if isinstance(value, (list, tuple, set)):
        out = []
        for v in value:
            out.extend(_as_list(v))
        return out
    return [value]


def chain(*elements):
    for left, right in zip(elements, elements[1:]):
        if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
            if len(left) != len(right):
                raise AirflowException(
                    f"Chain not supported for different length Iterable. Got {len(left)} and {len(right)}.")
            for a, b in zip(left, right):
                a.set_downstream(b)
        elif isinstance(left, (list, tuple)):
            for a in left:
                a.set_downstream(right)
        else:
            left.set_downstream(right)


def cross_downstream(from_tasks, to_tasks):
    for task in from_tasks:
        task.set_downstream(to_tasks)


# ---- task groups -----------------------------------------------------------

class TaskGroup(DependencyMixin):
    def __init__(self, group_id, prefix_group_id=True, parent_group=None, dag=None, default_args=None, tooltip="",
                 ui_color=None, ui_fgcolor=None, add_suffix_on_collision=False, **kwargs):
        self.parent = parent_group if parent_group is not None else (_group_stack[-1] if _group_stack else None)
        self.dag = dag or (self.parent.dag if self.parent else _current_dag())
        self._group_id = group_id
        self.prefix_group_id = prefix_group_id
        self.default_args = dict(default_args or {})
        self.children = []
        self.tooltip = tooltip
        if self.parent is not None:
            self.parent.children.append(self)

    @property
    def group_id(self):
        if self.parent is not None and self.parent.prefix_group_id and self.parent._group_id:
            return self.parent.child_id(self._group_id)
        return self._group_id

    def child_id(self, label):
        # Airflow: a group with prefix_group_id=False adds no prefix at all, not even its parents'.
        if self.prefix_group_id and self.group_id:
            return f"{self.group_id}.{label}"
        return label

    def merged_default_args(self):
        merged = self.parent.merged_default_args() if self.parent else {}
        merged.update(self.default_args)
        return merged

    def _tasks(self):
        out = []
        for child in self.children:
            out.extend(child._tasks() if isinstance(child, TaskGroup) else [child])
        return out

    def _roots(self):
        tasks = self._tasks()
        ids = {t.task_id for t in tasks}
        return [t for t in tasks if not (t.upstream_task_ids & ids)]

    def _leaves(self):
        tasks = self._tasks()
        ids = {t.task_id for t in tasks}
        return [t for t in tasks if not (t.downstream_task_ids & ids)]

    def __enter__(self):
        _group_stack.append(self)
        return self

    def __exit__(self, *exc):
        _group_stack.pop()
        return False


def task_group(python_callable=None, **group_kwargs):
    """@task_group: calling the function builds its tasks inside a TaskGroup."""
    def wrap(fn):
        @functools.wraps(fn)
        def factory(*args, **kwargs):
            gid = group_kwargs.get("group_id") or fn.__name__
            rest = {k: v for k, v in group_kwargs.items() if k != "group_id"}
            with TaskGroup(gid, **rest) as group:
                result = fn(*args, **kwargs)
            return result if result is not None else group
        return factory
    return wrap(python_callable) if callable(python_callable) else wrap


# ---- operators -------------------------------------------------------------

_DEFAULT_ARG_NAMES = ("owner", "retries", "retry_delay", "retry_exponential_backoff", "max_retry_delay",
                      "execution_timeout", "depends_on_past", "trigger_rule", "email", "email_on_failure",
                      "email_on_retry", "pool", "queue", "priority_weight", "do_xcom_push", "on_failure_callback",
                      "on_success_callback", "on_retry_callback", "sla", "wait_for_downstream", "start_date",
                      "end_date", "weight_rule", "executor_config", "run_as_user", "pool_slots", "doc_md",
                      "max_active_tis_per_dag")


class BaseOperator(DependencyMixin):
    template_fields = ()
    template_ext = ()
    ui_color = "#fff"

    def __init__(self, task_id, dag=None, task_group=None, default_args=None, owner="airflow", retries=_UNSET,
                 retry_delay=_UNSET, retry_exponential_backoff=_UNSET, max_retry_delay=_UNSET,
                 execution_timeout=_UNSET, depends_on_past=_UNSET, trigger_rule=_UNSET, do_xcom_push=True,
                 multiple_outputs=False, doc_md=None, params=None, **kwargs):
        group = task_group if task_group is not None else (_group_stack[-1] if _group_stack else None)
        dag = dag or (group.dag if group is not None else None) or _current_dag()
        merged = {}
        if dag is not None:
            merged.update(dag.default_args)
        if group is not None:
            merged.update(group.merged_default_args())
        merged.update(default_args or {})

        def pick(name, value, fallback):
            return value if value is not _UNSET else merged.get(name, fallback)

        self._label = task_id
        self.task_id = group.child_id(task_id) if group is not None else task_id
        self.task_group = group
        self.owner = owner if owner != "airflow" else merged.get("owner", "airflow")
        self.retries = int(pick("retries", retries, 0) or 0)
        self.retry_delay = pick("retry_delay", retry_delay, _dt.timedelta(seconds=300))
        if isinstance(self.retry_delay, (int, float)):
            self.retry_delay = _dt.timedelta(seconds=self.retry_delay)
        self.retry_exponential_backoff = bool(pick("retry_exponential_backoff", retry_exponential_backoff, False))
        self.max_retry_delay = pick("max_retry_delay", max_retry_delay, None)
        self.execution_timeout = pick("execution_timeout", execution_timeout, None)
        self.depends_on_past = bool(pick("depends_on_past", depends_on_past, False))
        # Airflow: wait_for_downstream implies depends_on_past.
        self.wait_for_downstream = bool(pick("wait_for_downstream", kwargs.get("wait_for_downstream", _UNSET), False))
        if self.wait_for_downstream:
            self.depends_on_past = True
        self.trigger_rule = str(pick("trigger_rule", trigger_rule, "all_success"))
        if self.trigger_rule not in SUPPORTED_TRIGGER_RULES:
            raise AirflowException(f"The trigger_rule must be one of {sorted(SUPPORTED_TRIGGER_RULES)},"
                                   f"'{self.task_id}'; received '{self.trigger_rule}'.")
        self.do_xcom_push = do_xcom_push
        self.multiple_outputs = multiple_outputs
        # How many instances of this task may run at once across the DAG's runs (None: no bound).
        self.max_active_tis_per_dag = kwargs.get("max_active_tis_per_dag", merged.get("max_active_tis_per_dag"))
        self.doc_md = doc_md
        self.params = dict(params or {})
        self.upstream_task_ids = set()
        self.downstream_task_ids = set()
        self.line = _caller_line()
        self.dag = None
        unknown = {k for k in kwargs if k not in _DEFAULT_ARG_NAMES}
        if unknown:
            raise AirflowException(f"Invalid arguments were passed to {type(self).__name__} (task_id: {task_id}). "
                                   f"Invalid arguments were:\n**kwargs: {', '.join(sorted(unknown))}")
        if dag is not None:
            dag.add_task(self)
        if group is not None:
            group.children.append(self)

    def _link(self, other):
        self.downstream_task_ids.add(other.task_id)
        other.upstream_task_ids.add(self.task_id)
        if self.dag is None and other.dag is not None:
            other.dag.add_task(self)
        if other.dag is None and self.dag is not None:
            self.dag.add_task(other)

    @property
    def upstream_list(self):
        return [self.dag.task_dict[t] for t in sorted(self.upstream_task_ids)] if self.dag else []

    @property
    def downstream_list(self):
        return [self.dag.task_dict[t] for t in sorted(self.downstream_task_ids)] if self.dag else []

    @property
    def output(self):
        return XComArg(self)

    @classmethod
    def partial(cls, **kwargs):
        """Dynamic task mapping: the arguments every mapped instance shares (task_id among them)."""
        if "task_id" not in kwargs:
            raise TypeError(f"{cls.__name__}.partial() missing required keyword argument 'task_id'")
        return OperatorPartial(cls, kwargs)

    def execute(self, context):
        raise NotImplementedError(f"{type(self).__name__}.execute")

    def __repr__(self):
        return f"<Task({type(self).__name__}): {self.task_id}>"

    # What the scheduler records; subclasses add their own keys.
    def _millrace_spec(self):
        return {"kind": "python"}


class EmptyOperator(BaseOperator):
    ui_color = "#e8f7e4"

    def execute(self, context):
        pass

    def _millrace_spec(self):
        return {"kind": "empty"}


DummyOperator = EmptyOperator


class BashOperator(BaseOperator):
    template_fields = ("bash_command", "env", "cwd")
    ui_color = "#f0ede4"

    def __init__(self, *, bash_command, env=None, append_env=False, output_encoding="utf-8",
                 skip_on_exit_code=99, cwd=None, **kwargs):
        super().__init__(**kwargs)
        self.bash_command = bash_command
        self.env = env
        self.append_env = append_env
        self.skip_on_exit_code = skip_on_exit_code
        self.cwd = cwd

    def _millrace_spec(self):
        if not isinstance(self.bash_command, str):
            raise AirflowException(f"task '{self.task_id}': bash_command must be a string")
        if self.bash_command.rstrip().endswith((".sh", ".bash")):
            raise AirflowException(f"task '{self.task_id}': bash_command naming a template file "
                                   f"({self.bash_command.strip()!r}) is not supported; inline the script")
        env = self.env or {}
        if not isinstance(env, dict):
            raise AirflowException(f"task '{self.task_id}': env must be a dict")
        return {"kind": "shell", "command": self.bash_command, "env": {str(k): str(v) for k, v in env.items()},
                "append_env": bool(self.append_env) or self.env is None, "cwd": self.cwd or "",
                "skip_on_exit_code": self.skip_on_exit_code if isinstance(self.skip_on_exit_code, int) else 99,
                "xcom_push": bool(self.do_xcom_push)}


class PythonOperator(BaseOperator):
    template_fields = ("templates_dict", "op_args", "op_kwargs")

    def __init__(self, *, python_callable, op_args=None, op_kwargs=None, templates_dict=None,
                 templates_exts=None, show_return_value_in_logs=True, **kwargs):
        super().__init__(**kwargs)
        if not callable(python_callable):
            raise AirflowException("`python_callable` param must be callable")
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.templates_dict = templates_dict
        for value in list(self.op_args) + list(self.op_kwargs.values()):
            for ref in _xcom_args_in(value):
                ref.operator.set_downstream(self)

    def execute(self, context):
        from airflow import _runtime
        return _runtime.call_python(self, context)


class BranchPythonOperator(PythonOperator):
    def execute(self, context):
        from airflow import _runtime
        chosen = super().execute(context)
        _runtime.skip_all_except(self, context, chosen)
        return chosen


class ShortCircuitOperator(PythonOperator):
    def __init__(self, *, ignore_downstream_trigger_rules=True, **kwargs):
        super().__init__(**kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules

    def execute(self, context):
        from airflow import _runtime
        value = super().execute(context)
        if not value:
            _runtime.short_circuit(self, context)
        return value


class BaseSensorOperator(BaseOperator):
    def __init__(self, *, poke_interval=60, timeout=7 * 24 * 3600, mode="poke", soft_fail=False,
                 exponential_backoff=False, max_wait=None, silent_fail=False, **kwargs):
        super().__init__(**kwargs)
        self.poke_interval = poke_interval.total_seconds() if isinstance(poke_interval, _dt.timedelta) else float(poke_interval)
        self.timeout = timeout.total_seconds() if isinstance(timeout, _dt.timedelta) else float(timeout)
        self.mode = mode
        self.soft_fail = soft_fail

    def poke(self, context):
        raise NotImplementedError

    def execute(self, context):
        from airflow import _runtime
        return _runtime.run_sensor(self, context)


class PokeReturnValue:
    def __init__(self, is_done, xcom_value=None):
        self.is_done = is_done
        self.xcom_value = xcom_value

    def __bool__(self):
        return bool(self.is_done)


class PythonSensor(BaseSensorOperator):
    template_fields = ("templates_dict", "op_args", "op_kwargs")

    def __init__(self, *, python_callable, op_args=None, op_kwargs=None, templates_dict=None, **kwargs):
        super().__init__(**kwargs)
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.templates_dict = templates_dict

    def poke(self, context):
        from airflow import _runtime
        return _runtime.call_python(self, context, push=False)


# ---- XComArg and TaskFlow ---------------------------------------------------

class XComArg(DependencyMixin):
    def __init__(self, operator, key="return_value"):
        self.operator = operator
        self.key = key

    def __getitem__(self, key):
        return XComArg(self.operator, key)

    def _roots(self):
        return [self.operator]

    def _leaves(self):
        return [self.operator]

    def __iter__(self):
        raise TypeError("'XComArg' object is not iterable")

    def __repr__(self):
        return f"XComArg({self.operator.task_id!r}, {self.key!r})"


def _xcom_args_in(value):
    if isinstance(value, XComArg):
        return [value]
    if isinstance(value, (list, tuple, set)):
        return [r for v in value for r in _xcom_args_in(v)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _xcom_args_in(v)]
    return []


def _unique_task_id(dag, group, label):
    full = group.child_id(label) if group is not None else label
    if dag is None or full not in dag.task_dict:
        return label
    n = 1
    while (group.child_id(f"{label}__{n}") if group is not None else f"{label}__{n}") in dag.task_dict:
        n += 1
    return f"{label}__{n}"


class _TaskDecorator:
    """What @task returns: calling it inside a DAG adds an operator."""

    def __init__(self, fn, operator_class, kwargs):
        self.function = fn
        self.operator_class = operator_class
        self.kwargs = kwargs
        functools.update_wrapper(self, fn)

    def override(self, **kwargs):
        return _TaskDecorator(self.function, self.operator_class, {**self.kwargs, **kwargs})

    def __call__(self, *args, **kwargs):
        group = _group_stack[-1] if _group_stack else None
        dag = self.kwargs.get("dag") or (group.dag if group else None) or _current_dag()
        options = dict(self.kwargs)
        label = options.pop("task_id", None) or self.function.__name__
        options["task_id"] = _unique_task_id(dag, group, label)
        op = self.operator_class(python_callable=self.function, op_args=args, op_kwargs=kwargs, **options)
        return XComArg(op)

    # Dynamic task mapping: the function's arguments mapped over lists, dicts or XComArgs.
    def partial(self, **kwargs):
        return _TaskFlowPartial(self, kwargs)

    def expand(self, **kwargs):
        return _TaskFlowPartial(self, {}).expand(**kwargs)

    def expand_kwargs(self, value):
        return _TaskFlowPartial(self, {}).expand_kwargs(value)


class _DecoratedPythonOperator(PythonOperator):
    def __init__(self, *, multiple_outputs=None, **kwargs):
        fn = kwargs.get("python_callable")
        if multiple_outputs is None:
            hints = getattr(fn, "__annotations__", {}).get("return")
            multiple_outputs = hints is dict or str(hints).startswith(("dict", "typing.Dict"))
        super().__init__(multiple_outputs=multiple_outputs, **kwargs)


class _DecoratedBranchOperator(_DecoratedPythonOperator, BranchPythonOperator):
    pass


class _DecoratedShortCircuitOperator(_DecoratedPythonOperator, ShortCircuitOperator):
    pass


class _DecoratedSensorOperator(BaseSensorOperator):
    def __init__(self, *, python_callable, op_args=None, op_kwargs=None, multiple_outputs=False, **kwargs):
        super().__init__(multiple_outputs=multiple_outputs, **kwargs)
        self.python_callable = python_callable
        self.op_args = list(op_args or [])
        self.op_kwargs = dict(op_kwargs or {})
        self.templates_dict = None
        for value in list(self.op_args) + list(self.op_kwargs.values()):
            for ref in _xcom_args_in(value):
                ref.operator.set_downstream(self)

    def poke(self, context):
        from airflow import _runtime
        return _runtime.call_python(self, context, push=False)


class _DecoratedBashOperator(PythonOperator):
    """@task.bash: the function returns the command, run as a BashOperator's would be."""

    def _millrace_spec(self):
        return {"kind": "python", "bash": True}

    def execute(self, context):
        from airflow import _runtime
        return _runtime.run_task_bash(self, context)


def _decorator(operator_class):
    def deco(python_callable=None, **kwargs):
        if callable(python_callable) and not kwargs:
            return _TaskDecorator(python_callable, operator_class, {})
        return lambda fn: _TaskDecorator(fn, operator_class, kwargs)
    return deco


class _TaskNamespace:
    def __call__(self, python_callable=None, **kwargs):
        return _decorator(_DecoratedPythonOperator)(python_callable, **kwargs)

    python = staticmethod(_decorator(_DecoratedPythonOperator))
    branch = staticmethod(_decorator(_DecoratedBranchOperator))
    short_circuit = staticmethod(_decorator(_DecoratedShortCircuitOperator))
    sensor = staticmethod(_decorator(_DecoratedSensorOperator))
    bash = staticmethod(_decorator(_DecoratedBashOperator))

    def __getattr__(self, name):
        raise AttributeError(f"@task.{name} is not supported by millrace "
                             "(supported: @task, @task.python, @task.branch, @task.short_circuit, @task.sensor, @task.bash)")


task = _TaskNamespace()


def dag(dag_id=None, **dag_kwargs):
    """@dag: calling the decorated function creates the DAG; its parameters become params."""
    def wrap(fn):
        @functools.wraps(fn)
        def factory(*args, **kwargs):
            params = dict(dag_kwargs.get("params") or {})
            sig = inspect.signature(fn)
            for name, p in sig.parameters.items():
                if p.default is not inspect.Parameter.empty and name not in params:
                    params[name] = p.default
            options = {k: v for k, v in dag_kwargs.items() if k != "params"}
            the_dag = DAG(dag_id=options.pop("dag_id", None) or fn.__name__, params=params, **options)
            if the_dag.doc_md is None and fn.__doc__:
                the_dag.doc_md = inspect.cleandoc(fn.__doc__)
            with the_dag:
                bound = sig.bind_partial(*args, **kwargs)
                call_kwargs = {}
                for name, p in sig.parameters.items():
                    if name in bound.arguments:
                        call_kwargs[name] = bound.arguments[name]
                    elif p.default is not inspect.Parameter.empty:
                        call_kwargs[name] = _DagParamRef(name, p.default)
                fn(**call_kwargs)
            return the_dag
        return factory
    if callable(dag_id):
        return wrap(dag_id)
    if dag_id is not None:
        dag_kwargs["dag_id"] = dag_id
    return wrap


class _DagParamRef:
    """A @dag function's parameter: resolved to the run's param value when a task runs."""

    def __init__(self, name, default):
        self.name = name
        self.default = default


# ---- variables and connections ---------------------------------------------

class Variable:
    @staticmethod
    def get(key, default_var=_UNSET, deserialize_json=False, default=_UNSET):
        from airflow import _runtime
        if default is not _UNSET and default_var is _UNSET:
            default_var = default
        value = _runtime.variable(key)
        if value is None:
            if default_var is _UNSET:
                raise KeyError(f"Variable {key} does not exist")
            return default_var
        if not deserialize_json:
            return value
        obj = json.loads(value)
        _runtime.mask_secret(obj, key)  # as Airflow: a dict's values under sensitive keys
        return obj

    @staticmethod
    def set(key, value, description=None, serialize_json=False):
        from airflow import _runtime
        _runtime.set_variable(key, json.dumps(value) if serialize_json else str(value))


class Connection:
    def __init__(self, conn_id=None, conn_type=None, host=None, login=None, password=None, schema=None, port=None,
                 extra=None, uri=None, description=None):
        self.conn_id = conn_id
        self.conn_type, self.host, self.login, self.password = conn_type, host, login, password
        self.schema, self.port, self.extra, self.description = schema, port, extra, description
        if uri:
            self._parse_uri(uri)

    def _parse_uri(self, uri):
        from urllib.parse import urlsplit, unquote, parse_qsl
        parts = urlsplit(uri)
        self.conn_type = parts.scheme.replace("-", "_")
        self.host = unquote(parts.hostname) if parts.hostname else None
        self.login = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.port = parts.port
        self.schema = unquote(parts.path[1:]) if parts.path else ""
        query = dict(parse_qsl(parts.query))
        self.extra = json.dumps(query) if query else None

    @property
    def extra_dejson(self):
        try:
            return json.loads(self.extra) if self.extra else {}
        except ValueError:
            return {}

    def get_uri(self):
        auth = ""
        if self.login:
            auth = self.login + (f":{self.password}" if self.password else "") + "@"
        port = f":{self.port}" if self.port else ""
        return f"{self.conn_type}://{auth}{self.host or ''}{port}/{self.schema or ''}"


class BaseHook:
    @classmethod
    def get_connection(cls, conn_id):
        from airflow import _runtime
        return _runtime.connection(conn_id)


class Dataset:
    def __init__(self, uri, extra=None):
        raise AirflowException("Datasets (data-aware schedules) are not supported by millrace")


Asset = Dataset


_current_context = []


def _runtime_get_current_context():
    if not _current_context:
        raise AirflowException("Current context was requested but no context was found! Are you running within a task?")
    return _current_context[-1]


# ---- dynamic task mapping ---------------------------------------------------
#
# Airflow's .partial(...).expand(...) / .expand_kwargs(...): the task is
# declared once (a normal operator built from the partial arguments, with
# neutral stand-ins for the mapped ones) and carries `_millrace_expand`, what
# is mapped and over what; the scheduler creates one instance per element (a
# cartesian product over several mapped arguments, as Airflow) and hands each
# its values when it runs.

# The arguments a classic operator may map over (the others are not supported).
_MAPPABLE = {"BashOperator": {"bash_command": "", "env": None, "cwd": None},
             "PythonOperator": {"op_args": None, "op_kwargs": None, "templates_dict": None}}


def _map_source(name, value, where):
    if isinstance(value, XComArg):
        return {"name": name, "task_id": value.operator.task_id, "key": value.key}
    if isinstance(value, (list, tuple, dict)):
        if _xcom_args_in(value):
            raise AirflowException(f"{where}: an XComArg inside a literal to map over ({name}) is not supported by "
                                   "millrace; map over the upstream task's output itself")
        try:
            json.dumps(value)
        except (TypeError, ValueError) as e:
            raise AirflowException(f"{where}: the values to map {name} over must be JSON-serialisable: {e}") from None
        if isinstance(value, dict):
            return {"name": name, "literal": [[k, v] for k, v in value.items()]}
        return {"name": name, "literal": list(value)}
    raise ValueError(f"{where}: expand() got an unexpected type {type(value).__name__!r} for keyword argument {name!r}")


def _check_expand(kwargs, partial_kwargs, where):
    if not kwargs:
        raise TypeError(f"{where}: no arguments to expand against")
    both = sorted(set(kwargs) & set(partial_kwargs))
    if both:
        raise TypeError(f"{where}: arguments {both} were given to both partial() and expand()")


def _kwargs_source(value, where):
    if isinstance(value, XComArg):
        return {"name": "", "task_id": value.operator.task_id, "key": value.key}
    if isinstance(value, (list, tuple)):
        if _xcom_args_in(value):
            raise AirflowException(f"{where}: XComArgs inside expand_kwargs() literals are not supported by millrace")
        for item in value:
            if not isinstance(item, dict):
                raise ValueError(f"{where}: expand_kwargs() expects a list of dicts, got an element {item!r}")
        return {"name": "", "literal": list(value)}
    raise ValueError(f"{where}: expand_kwargs() expects a list of dicts or an XComArg, got {type(value).__name__}")


def _link_sources(op, sources):
    for source in sources:
        if "task_id" in source:
            upstream = op.dag.task_dict.get(source["task_id"]) if op.dag else None
            if upstream is None:
                raise AirflowException(f"task '{op.task_id}' maps over the output of '{source['task_id']}', "
                                       "which is not in its DAG")
            upstream.set_downstream(op)


class OperatorPartial:
    """BashOperator.partial(...): .expand(**kwargs) or .expand_kwargs(list) makes the mapped task."""

    def __init__(self, operator_class, kwargs):
        self.operator_class = operator_class
        self.kwargs = kwargs

    def _build(self, names, mode, sources):
        where = f"task '{self.kwargs.get('task_id')}'"
        mappable = _MAPPABLE.get(self.operator_class.__name__)
        if mappable is None:
            for base in self.operator_class.__mro__:
                if base.__name__ in _MAPPABLE:
                    mappable = _MAPPABLE[base.__name__]
                    break
        if mappable is None:
            raise AirflowException(f"{where}: mapping a {self.operator_class.__name__} is not supported by millrace "
                                   f"(supported: {', '.join(sorted(_MAPPABLE))})")
        for name in names:
            if name not in mappable:
                raise AirflowException(f"{where}: mapping {self.operator_class.__name__} over '{name}' is not supported "
                                       f"by millrace (supported: {', '.join(sorted(mappable))})")
        stand_ins = {n: v for n, v in mappable.items() if n not in self.kwargs and n in names}
        op = self.operator_class(**self.kwargs, **stand_ins)
        op._millrace_expand = {"mode": mode, "taskflow": False, "args": sources, "partial": sorted(self.kwargs)}
        _link_sources(op, sources)
        return op

    def expand(self, **kwargs):
        where = f"task '{self.kwargs.get('task_id')}'"
        _check_expand(kwargs, self.kwargs, where)
        sources = [_map_source(n, v, where) for n, v in kwargs.items()]
        return self._build(list(kwargs), "product", sources)

    def expand_kwargs(self, value):
        where = f"task '{self.kwargs.get('task_id')}'"
        source = _kwargs_source(value, where)
        mappable = _MAPPABLE.get(self.operator_class.__name__) or {}
        names = list(mappable)
        if "literal" in source:
            names = sorted({k for item in source["literal"] for k in item})
        return self._build(names, "kwargs", [source])


class _TaskFlowPartial:
    """@task's .partial(...): .expand(**kwargs) / .expand_kwargs(...) map the function's arguments."""

    def __init__(self, decorator, kwargs):
        self.decorator = decorator
        self.kwargs = kwargs

    def _build(self, mode, sources):
        group = _group_stack[-1] if _group_stack else None
        dec = self.decorator
        dag = dec.kwargs.get("dag") or (group.dag if group else None) or _current_dag()
        options = dict(dec.kwargs)
        label = options.pop("task_id", None) or dec.function.__name__
        options["task_id"] = _unique_task_id(dag, group, label)
        op = dec.operator_class(python_callable=dec.function, op_args=(), op_kwargs=dict(self.kwargs), **options)
        op._millrace_expand = {"mode": mode, "taskflow": True, "args": sources, "partial": sorted(self.kwargs)}
        _link_sources(op, sources)
        return XComArg(op)

    def expand(self, **kwargs):
        where = f"task '{self.decorator.function.__name__}'"
        _check_expand(kwargs, self.kwargs, where)
        return self._build("product", [_map_source(n, v, where) for n, v in kwargs.items()])

    def expand_kwargs(self, value):
        where = f"task '{self.decorator.function.__name__}'"
        return self._build("kwargs", [_kwargs_source(value, where)])


def _apply_mapped_kwargs(task, values):
    """A mapped instance's own arguments, set on the task before it runs."""
    spec = getattr(task, "_millrace_expand", None)
    if spec is None:
        return
    # Airflow: an expand_kwargs element may not set what partial() set.
    taken = sorted(set(values) & set(spec.get("partial", ())))
    if taken:
        raise TypeError(f"unmappable or already specified argument: {taken[0]}")
    if spec["taskflow"]:
        task.op_kwargs = {**task.op_kwargs, **values}
        return
    for name, value in values.items():
        if name == "op_args":
            value = list(value or [])
        elif name == "op_kwargs":
            value = dict(value or {})
        setattr(task, name, value)
