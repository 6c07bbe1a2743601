#!/usr/bin/env python3
"""The classic pipeline's own Airflow DAG (airflow_dags/kafka_stream.py) run by
`millrace up`'s scheduler, with only its URL and bootstrap address pointed at
millrace's source and broker (issue 22):

1. as written, its json.dumps of a uuid.UUID raises inside its own try: the task
   succeeds, logs "An error occured: Object of type UUID is not JSON serializable"
   and sends nothing (topic users_created stays empty, read with kcat);
2. with that one bug fixed (str(uuid.uuid4())), every user it sends reaches
   spark_streams.created_users (read with the Python cassandra-driver).

  classic_dag_test.py --binary build/millrace
Reuses tests/e2e/e2e.py's harness (ephemeral ports, ready lines, real clients).
The DAG's loop runs for one minute per run, as the original does.
"""
import argparse
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

ORIGINAL = os.path.join(HERE, "airflow_dags", "kafka_stream.py")
BUG = "data['id'] = uuid.uuid4()"
FIX = "data['id'] = str(uuid.uuid4())"


def pointed(source, kafka, fixed):
    with open(ORIGINAL) as f:
        text = f.read()
    for old, new in [('"https://randomuser.me/api/"', f'"http://{source}/api/"'), ("'broker:29092'", f"'{kafka}'")]:
        if text.count(old) != 1:
            raise e2e.failure(f"kafka_stream.py: expected {old} once")
        text = text.replace(old, new)
    if fixed:
        text = text.replace(BUG, FIX)
    return text


def topic_records(kafka):
    out = subprocess.run(["kcat", "-b", kafka, "-C", "-t", "users_created", "-o", "beginning", "-e", "-q", "-f", "%o\n"],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0 and "Unknown topic" not in out.stderr:
        raise e2e.failure(f"kcat: {out.stderr.strip()}")
    return len([line for line in out.stdout.splitlines() if line])


def wait_run(p, run_id):
    url = f"http://{p.scheduler}/api/v1/dags/user_automation/dagRuns/{urllib.parse.quote(run_id, safe='')}"
    return e2e.wait_for(f"run {run_id} to end", 300,
                        lambda: (lambda r: r if r["state"] in ("success", "failed") else None)(e2e.http_json("GET", url)), 1)


def log_of(p, run_id):
    base = f"http://{p.scheduler}/api/v1/dags/user_automation/dagRuns/{urllib.parse.quote(run_id, safe='')}"
    ti = e2e.http_json("GET", f"{base}/taskInstances/stream_data_from_api")
    with open(ti["log_path"]) as f:
        return ti, f.read()


def run(binary, work):
    dags = os.path.join(work, "dags")
    os.makedirs(dags)
    pylibs = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "millrace", "scheduler-pylibs")
    os.environ["PYTHONPATH"] = pylibs  # requests and kafka-python for the DAG (tests/scheduler/setup.sh)
    up, p = e2e.start_up(binary, os.path.join(work, "data"), work,
                         ["--set", "up.disable=cdc", "--set", f"scheduler.dags_dir={dags}",
                          "--set", "scheduler.dag_scan_interval=500ms"])
    try:
        source = e2e.read_status(up.ready_line.split()[2])["source"]["address"]
        # 1. The original: its catchup=False @daily schedule starts one run as soon as it loads.
        with open(os.path.join(dags, "kafka_stream.py"), "w") as f:
            f.write(pointed(source, p.kafka, fixed=False))
        runs_url = f"http://{p.scheduler}/api/v1/dags/user_automation/dagRuns"
        first = e2e.wait_for("the scheduled run of user_automation", 120,
                             lambda: (e2e.http_json("GET", runs_url).get("dag_runs") or [None])[0])
        run_id = first["dag_run_id"]
        e2e.log(f"kafka_stream.py loaded; scheduled run {run_id}")
        done = wait_run(p, run_id)
        ti, text = log_of(p, run_id)
        if done["state"] != "success" or ti["state"] != "success":
            raise e2e.failure(f"the original DAG's run ended {done['state']} (task {ti['state']}), expected success:\n{text[-3000:]}")
        errors = text.count("An error occured: Object of type UUID is not JSON serializable")
        if errors == 0:
            raise e2e.failure(f"the task log does not show the UUID error:\n{text[-3000:]}")
        sent = topic_records(p.kafka)
        if sent != 0:
            raise e2e.failure(f"the original DAG sent {sent} records to users_created; expected none")
        e2e.log(f"original: task succeeded, logged the UUID error {errors} times, users_created is empty")

        # 2. The one fix: str() of the id.
        dag_url = f"http://{p.scheduler}/api/v1/dags/user_automation"
        parsed_before = e2e.http_json("GET", dag_url)["last_parsed_time"]
        with open(os.path.join(dags, "kafka_stream.py"), "w") as f:
            f.write(pointed(source, p.kafka, fixed=True))
        # Wait for the reload (tries import the file as it is then), then trigger.
        e2e.wait_for("the fixed DAG reloaded", 60,
                     lambda: e2e.http_json("GET", dag_url)["last_parsed_time"] != parsed_before)
        e2e.http_json("POST", runs_url, {"dag_run_id": "fixed"})
        done = wait_run(p, "fixed")
        ti, text = log_of(p, "fixed")
        if done["state"] != "success":
            raise e2e.failure(f"the fixed DAG's run ended {done['state']}:\n{text[-3000:]}")
        if "An error occured" in text:
            raise e2e.failure(f"the fixed DAG still logs errors:\n{text[-3000:]}")
        sent = topic_records(p.kafka)
        if sent < 10:
            raise e2e.failure(f"the fixed DAG sent {sent} records in a minute; expected many")
        e2e.log(f"fixed: {sent} users produced to users_created (kcat)")
        e2e.wait_for(f"{sent} rows in spark_streams.created_users", 600, lambda: p.rows_in_table() == sent or None, 2)
        e2e.log(f"spark_streams.created_users has all {sent} users (cassandra-driver)")
    finally:
        p.close()
        code = up.stop()
    if code != 0:
        raise e2e.failure(f"millrace up exited {code} after SIGTERM:\n{up.stderr_tail()}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="millrace-classic-dag-")
    os.chmod(work, 0o755)  # the managed PostgreSQL runs as user postgres
    try:
        run(os.path.abspath(args.binary), work)
        e2e.log("classic DAG: OK")
        return 0
    except Exception as e:
        e2e.log(f"classic DAG: FAILED: {type(e).__name__}: {e}")
        for name in sorted(os.listdir(work)):
            if name.endswith(".err"):
                with open(os.path.join(work, name)) as f:
                    print(f"--- last lines of {name}:\n" + "".join(f.readlines()[-25:]), file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
