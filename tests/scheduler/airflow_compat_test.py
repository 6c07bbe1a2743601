#!/usr/bin/env python3
"""Conformance with real Apache Airflow as the oracle (issue 22; label compat).

Creates (once, cached) a virtualenv with apache-airflow 2.10.5 from PyPI, then for
each Airflow 2 DAG of the corpus (airflow_dags/) compares
  - what real Airflow's DagBag parses (task ids, upstream sets, schedule, time zone,
    start date, catchup, params, trigger rules, retries; import errors for the broken
    files) with what millrace's scheduler parsed (its REST API, and the runner's JSON);
  - what `airflow dags test <dag> <date>` produces (task states, XComs, rendered template
    fields) with millrace's run of the same logical date (REST API: taskInstances with
    their rendered_fields, xcomEntries).
Any difference fails. a3_sdk.py (Airflow 3's airflow.sdk) is not in Airflow 2.10.

  airflow_compat_test.py --binary build/millrace
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import e2e  # noqa: E402

AIRFLOW_VERSION = "2.10.5"
CORPUS = os.path.join(HERE, "airflow_dags")
PARSED = ["a2_imports.py", "branching.py", "sensors.py", "task_groups.py", "templates.py", "params_conf.py",
          "retries.py", "timeouts.py", "trigger_rules.py", "xcom_vars.py", "depends_past.py",
          "mapping.py"]
BROKEN = ["syntax_error.py", "unsupported_import.py"]
# DAG → logical date of the compared run (a2_imports starts 2026-03-01 in Berlin).
RUN = {"trigger_rules": "2026-02-03T04:05:06+00:00", "branching": "2026-02-03T04:05:06+00:00",
       "task_groups": "2026-02-03T04:05:06+00:00", "a2_imports": "2026-03-05T01:30:00+00:00",
       "depends_past": "2026-02-03T04:05:06+00:00", "mapping": "2026-02-03T04:05:06+00:00"}
# Airflow's own bookkeeping in XCom (which branch it followed), not the tasks' values.
INTERNAL_XCOM_KEYS = {"skipmixin_key"}
# Rendered fields that differ on purpose: Airflow stores the lazy proxy of a mapped task's
# XComs as its text ("(LazySelectSequence([4 items]),)"); millrace stores the values.
RENDERED_DIFFERENCES = {("mapping", "total")}


def venv():
    """The virtualenv with apache-airflow, created once (a half-made one is made again)."""
    base = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "millrace")
    path = os.path.join(base, f"airflow-{AIRFLOW_VERSION}")
    if not os.path.exists(os.path.join(path, ".complete")):
        e2e.log(f"creating a virtualenv with apache-airflow {AIRFLOW_VERSION} in {path} (once)")
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", path], check=True)
        subprocess.run([os.path.join(path, "bin", "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        f"apache-airflow=={AIRFLOW_VERSION}"], check=True)
        open(os.path.join(path, ".complete"), "w").close()
    return path


class oracle:
    def __init__(self, venv_dir, work):
        self.bin = os.path.join(venv_dir, "bin")
        self.env = dict(os.environ, AIRFLOW_HOME=os.path.join(work, "airflow_home"),
                        AIRFLOW__CORE__LOAD_EXAMPLES="False", AIRFLOW__CORE__DAGS_FOLDER=os.path.join(work, "oracle_dags"),
                        AIRFLOW__CORE__UNIT_TEST_MODE="False", TEST_AIRFLOW_OUT=os.path.join(work, "oracle_out"))
        self.env.pop("PYTHONPATH", None)
        os.makedirs(self.env["AIRFLOW__CORE__DAGS_FOLDER"])
        os.makedirs(self.env["TEST_AIRFLOW_OUT"])

    def py(self, *args):
        out = subprocess.run([os.path.join(self.bin, "python"), os.path.join(HERE, "airflow_oracle.py"), *args],
                             capture_output=True, text=True, env=self.env, timeout=600)
        if out.returncode != 0:
            raise e2e.failure(f"airflow_oracle.py {' '.join(args)}: {out.stderr[-2000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    def airflow(self, *args, check=True):
        out = subprocess.run([os.path.join(self.bin, "python"), "-m", "airflow", *args], capture_output=True, text=True, env=self.env,
                             timeout=900)
        if out.returncode != 0 and check:
            raise e2e.failure(f"airflow {' '.join(args)}: {out.stderr[-3000:]}")
        return out.stdout


def compare(what, want, got, diffs):
    if want != got:
        diffs.append(f"{what}: Airflow {want!r}, millrace {got!r}")


def run(binary, work):
    o = oracle(venv(), work)
    o.airflow("db", "migrate")
    dags = os.path.join(work, "dags")
    os.makedirs(dags)
    for name in PARSED + BROKEN:
        shutil.copy(os.path.join(CORPUS, name), dags)
        shutil.copy(os.path.join(CORPUS, name), o.env["AIRFLOW__CORE__DAGS_FOLDER"])
    pylibs = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "millrace", "scheduler-pylibs")
    os.environ["PYTHONPATH"] = pylibs
    os.environ["TEST_AIRFLOW_OUT"] = os.path.join(work, "millrace_out")
    os.makedirs(os.environ["TEST_AIRFLOW_OUT"])
    up, p = e2e.start_up(binary, os.path.join(work, "data"), work,
                         ["--set", "up.disable=cdc", "--set", f"scheduler.dags_dir={dags}"])
    diffs = []
    try:
        api = f"http://{p.scheduler}/api/v1"
        e2e.wait_for("the corpus parsed", 180, lambda: len(e2e.http_json("GET", f"{api}/importErrors")["import_errors"])
                     == len(BROKEN) and e2e.http_json("GET", f"{api}/dags")["total_entries"] >= len(PARSED))
        errors = {os.path.basename(e["filename"]) for e in e2e.http_json("GET", f"{api}/importErrors")["import_errors"]}
        for name in BROKEN:
            real = o.py("parse", os.path.join(CORPUS, name))
            compare(f"{name} is an import error", bool(real["import_errors"]), name in errors, diffs)
        for name in PARSED:
            real = o.py("parse", os.path.join(o.env["AIRFLOW__CORE__DAGS_FOLDER"], name))
            if real["import_errors"]:
                diffs.append(f"{name}: real Airflow cannot import it: {real['import_errors']}")
                continue
            for dag_id, want in real["dags"].items():
                dag = e2e.http_json("GET", f"{api}/dags/{dag_id}")
                tasks = {t["task_id"]: t for t in e2e.http_json("GET", f"{api}/dags/{dag_id}/tasks")["tasks"]}
                compare(f"{dag_id} task ids", sorted(want["tasks"]), sorted(tasks), diffs)
                for task_id, t in want["tasks"].items():
                    if task_id not in tasks:
                        continue
                    compare(f"{dag_id}.{task_id} upstream", t["upstream"], sorted(tasks[task_id]["upstream_task_ids"]), diffs)
                    compare(f"{dag_id}.{task_id} trigger_rule", t["trigger_rule"], tasks[task_id]["trigger_rule"], diffs)
                    compare(f"{dag_id}.{task_id} retries", t["retries"], tasks[task_id]["retries"], diffs)
                    for key in ("depends_on_past", "wait_for_downstream"):
                        compare(f"{dag_id}.{task_id} {key}", t[key], tasks[task_id].get(key), diffs)
                sched = dag["schedule_interval"]
                mine = None if sched is None else sched.get("value") if sched.get("__type") == "CronExpression" else \
                    f"{sched['days']} day, 0:00:00" if sched["days"] == 1 and sched["seconds"] == 0 else str(sched)
                compare(f"{dag_id} schedule", want["schedule"], mine, diffs)
                compare(f"{dag_id} timezone", want["timezone"], dag["timezone"], diffs)
                compare(f"{dag_id} start_date", want["start_date"], dag["start_date"], diffs)
                compare(f"{dag_id} catchup", want["catchup"], dag["catchup"], diffs)
                compare(f"{dag_id} params", want["params"], dag.get("params"), diffs)
        e2e.log(f"parsed {len(PARSED)} files, {len(BROKEN)} import errors; {len(diffs)} differences so far")

        for dag_id, logical in RUN.items():
            o.airflow("dags", "test", dag_id, logical, check=False)  # exits 1 when the run failed, as trigger_rules does
            real = o.py("result", dag_id, f"manual__{logical}")
            run_id = f"compat_{dag_id}"
            e2e.http_json("POST", f"{api}/dags/{dag_id}/dagRuns", {"dag_run_id": run_id, "logical_date": logical})
            base = f"{api}/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id)}"
            e2e.wait_for(f"millrace's run of {dag_id}", 300,
                         lambda: e2e.http_json("GET", base)["state"] in ("success", "failed"), 1)
            tis = e2e.http_json("GET", f"{base}/taskInstances")["task_instances"]
            # A mapped task's instances as task_id[map_index], as airflow_oracle.py names them.
            def name(task_id, map_index):
                return task_id if map_index < 0 else f"{task_id}[{map_index}]"
            compare(f"{dag_id} task states", real["states"], {name(t["task_id"], t["map_index"]): t["state"] for t in tis}, diffs)
            mine = {}
            for task_id in sorted({t["task_id"] for t in tis}):
                for x in e2e.http_json("GET", f"{base}/taskInstances/{urllib.parse.quote(task_id)}/xcomEntries")["xcom_entries"]:
                    mine[f"{name(task_id, x['map_index'])}/{x['key']}"] = json.loads(x["value"])
            real_xcoms = {k: v for k, v in real["xcoms"].items() if k.split("/")[-1] not in INTERNAL_XCOM_KEYS}
            compare(f"{dag_id} XComs", real_xcoms, mine, diffs)
            # Rendered template fields of the tasks that have any (EmptyOperators and skipped
            # tasks have none: {} in both, or no row in Airflow's table).
            compare(f"{dag_id} rendered fields",
                    {k: v for k, v in real["rendered"].items() if v and (dag_id, k) not in RENDERED_DIFFERENCES},
                    {name(t["task_id"], t["map_index"]): t["rendered_fields"] for t in tis
                     if t.get("rendered_fields") and (dag_id, name(t["task_id"], t["map_index"])) not in RENDERED_DIFFERENCES},
                    diffs)
        e2e.log(f"ran {len(RUN)} DAGs in both; {len(diffs)} differences")
    finally:
        p.close()
        up.stop()
    if diffs:
        raise e2e.failure(f"{len(diffs)} differences from real Airflow:\n  " + "\n  ".join(diffs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="millrace-airflow-compat-")
    os.chmod(work, 0o755)
    try:
        run(os.path.abspath(args.binary), work)
        e2e.log("airflow compat: OK")
        return 0
    except Exception as e:
        e2e.log(f"airflow compat: FAILED: {type(e).__name__}: {e}")
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
