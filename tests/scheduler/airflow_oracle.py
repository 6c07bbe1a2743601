"""Runs inside the apache-airflow virtualenv (airflow_compat_test.py):

  airflow_oracle.py parse <dag file>          -> JSON: the DAGs real Airflow's DagBag parsed, or its import errors
  airflow_oracle.py result <dag_id> <run_id>  -> JSON: task states, XComs and rendered template fields
                                                 of a run `airflow dags test` made
"""
import json
import sys


def parse(path):
    from airflow.models.dagbag import DagBag
    bag = DagBag(dag_folder=path, include_examples=False, safe_mode=False)
    out = {"import_errors": {k: v for k, v in bag.import_errors.items()}, "dags": {}}
    for dag in bag.dags.values():
        out["dags"][dag.dag_id] = {
            "schedule": dag.timetable.summary if dag.timetable.summary != "None" else None,
            "timezone": str(dag.timezone.name),
            "start_date": dag.start_date.isoformat() if dag.start_date else None,
            "catchup": dag.catchup,
            "params": {k: dag.params.get_param(k).value for k in dag.params.keys()},
            "tasks": {t.task_id: {"upstream": sorted(t.upstream_task_ids), "trigger_rule": str(t.trigger_rule),
                                  "retries": t.retries, "depends_on_past": t.depends_on_past,
                                  "wait_for_downstream": t.wait_for_downstream} for t in dag.tasks},
        }
    print(json.dumps(out, default=str))


def result(dag_id, run_id):
    from airflow.models import TaskInstance, XCom
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
    from airflow.utils.session import create_session
    with create_session() as session:
        tis = session.query(TaskInstance).filter(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id).all()
        xcoms = session.query(XCom).filter(XCom.dag_id == dag_id, XCom.run_id == run_id).all()
        rendered = session.query(RTIF).filter(RTIF.dag_id == dag_id, RTIF.run_id == run_id).all()
        # A mapped task's instances as task_id[map_index].
        def name(task_id, map_index):
            return task_id if map_index < 0 else f"{task_id}[{map_index}]"
        print(json.dumps({"states": {name(ti.task_id, ti.map_index): ti.state for ti in tis},
                          "xcoms": {f"{name(x.task_id, x.map_index)}/{x.key}": x.value for x in xcoms},
                          "rendered": {name(r.task_id, r.map_index): r.rendered_fields for r in rendered}}, default=str))


if __name__ == "__main__":
    if sys.argv[1] == "parse":
        parse(sys.argv[2])
    else:
        result(sys.argv[2], sys.argv[3])
