// Browser test of the scheduler UI in Debian's headless chromium (driven by
// playwright-core): open the UI, trigger user_automation, watch its task turn
// green, open its log, and save a screenshot as a test artifact.
//
// usage: node ui_test.mjs <millrace binary> <repo dir> <artifact dir>
import { spawn, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const [binary, repo, artifacts] = process.argv.slice(2);
if (!binary || !repo || !artifacts) {
  console.error("usage: node ui_test.mjs <millrace binary> <repo dir> <artifact dir>");
  process.exit(2);
}
const here = path.dirname(new URL(import.meta.url).pathname);
const module_dir = execFileSync(path.join(here, "setup.sh"), { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
const { chromium } = createRequire(path.join(module_dir, "package.json"))("playwright-core");

const children = [];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "millrace-ui-test-"));
fs.chmodSync(tmp, 0o755);  // the postgres user must reach the cluster inside

// Starts `millrace <args>` and resolves with its ready line's address.
function start(name, args) {
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  const log = fs.createWriteStream(path.join(tmp, `${name}.log`));
  child.stderr.pipe(log);
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${name} not ready within 90 s; see ${tmp}/${name}.log`)), 90_000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const match = out.match(/^ready \S+ (\S+) admin/m);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`${name} exited with ${code}; see ${tmp}/${name}.log`)));
  });
}

async function stop_all() {
  for (const child of children.reverse()) {
    if (child.exitCode !== null) continue;
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    await exited;
    clearTimeout(timer);
  }
}

let browser;
let failed = false;
try {
  fs.mkdirSync(path.join(tmp, "dags"));
  fs.copyFileSync(path.join(repo, "dags/user_automation.yaml"), path.join(tmp, "dags/user_automation.yaml"));
  // A DAG to operate: `a` fails when the run's conf says so; b and c follow it.
  fs.writeFileSync(path.join(tmp, "dags/ops.yaml"), [
    "dag_id: ops", "schedule: '0 3 * * *'", "start_date: 2026-01-01", "catchup: false", "params: {fail: 'no'}", "tasks:",
    "  a: {kind: shell, command: 'test \"$FAIL\" != yes', env: {FAIL: '{{ params.fail }}'}}",
    "  b: {kind: shell, command: 'echo b', depends_on: [a]}",
    "  c: {kind: shell, command: 'echo c', depends_on: [b]}", ""].join("\n"));
  // An Airflow DAG with a mapped task: instance 2 of 3 fails.
  fs.writeFileSync(path.join(tmp, "dags/mapped_ui.py"), [
    "from datetime import datetime", "from airflow import DAG", "from airflow.decorators import task",
    "with DAG('mapped_ui', schedule=None, start_date=datetime(2026, 1, 1)):", "    @task", "    def square(x):",
    "        if x == 3:", "            raise ValueError('three is refused')", "        return x * x",
    "    square.expand(x=[1, 2, 3])", ""].join("\n"));
  // An Airflow DAG whose task renders the run's conf and its try number (try 1 fails, try 2 succeeds).
  fs.writeFileSync(path.join(tmp, "dags/rendered_ui.py"), [
    "from datetime import datetime, timedelta", "from airflow import DAG", "from airflow.operators.bash import BashOperator",
    "with DAG('rendered_ui', schedule=None, start_date=datetime(2026, 1, 1), params={'html': 'plain'}):",
    "    BashOperator(task_id='show', retries=1, retry_delay=timedelta(seconds=0),",
    "                 bash_command='echo \"{{ params.html }}\" try {{ ti.try_number }}; test {{ ti.try_number }} -ge 2')", ""].join("\n"));
  // jinja2 for the DAG's templates (tests/scheduler/setup.sh installs it there).
  process.env.PYTHONPATH = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "millrace", "scheduler-pylibs");
  const pg = await start("postgres", ["postgres", "--admin-port", "0", "--data-dir", path.join(tmp, "data"),
    "--set", "postgres.port=0", "--set", `postgres.data_dir=${path.join(tmp, "pg")}`]);
  const [pg_host, pg_port] = pg.split(":");
  const address = await start("scheduler", ["scheduler", "--port", "0", "--admin-port", "0", "--data-dir",
    path.join(tmp, "scheduler"), "--set", `postgres.dsn=host=${pg_host} port=${pg_port} user=postgres dbname=millrace passfile=${path.join(tmp, "pg", "millrace.pgpass")}`,
    "--set", `scheduler.dags_dir=${path.join(tmp, "dags")}`]);

  browser = await chromium.launch({
    executablePath: execFileSync("which", ["chromium"], { encoding: "utf8" }).trim(),
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--no-first-run"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  // Nothing may be fetched from outside this machine.
  const outside = [];
  page.on("request", (req) => {
    const url = new URL(req.url());
    if (url.hostname !== "127.0.0.1" && url.hostname !== "localhost") outside.push(req.url());
  });
  page.setDefaultTimeout(60_000);
  await page.goto(`http://${address}/`);
  const row = page.getByTestId("dag-row-user_automation");
  await row.waitFor();
  await row.getByTestId("trigger-user_automation").click();
  await page.getByTestId("message").filter({ hasText: "triggered user_automation" }).waitFor();

  await row.getByRole("link", { name: "user_automation" }).click();
  await page.getByTestId("dag-title").filter({ hasText: "user_automation" }).waitFor();
  // The manual run's task turns green (the grid polls the API).
  const cell = page.locator('[data-testid="cell-stream_data_from_api"][data-run^="manual__"]');
  await cell.waitFor();
  await page.locator('[data-testid="cell-stream_data_from_api"][data-run^="manual__"][data-state="success"]').waitFor();
  await cell.click();
  await page.locator('[data-testid="node-stream_data_from_api"][data-state="success"]').waitFor();
  const log = page.getByTestId("log");
  await log.filter({ hasText: "try 1 succeeded" }).waitFor();
  const text = await log.textContent();
  if (!/fetched 100, stored \d+/.test(text)) throw new Error(`the log does not report the fetch:\n${text}`);
  fs.mkdirSync(artifacts, { recursive: true });
  const shot = path.join(artifacts, "scheduler_ui.png");
  await page.screenshot({ path: shot, fullPage: true });
  // The run's summary comes first in the task panel.
  const summary = await page.getByTestId("log-summary").textContent();
  if (!/new users/.test(summary)) throw new Error(`no summary above the log: ${summary}`);

  // Operate the `ops` DAG, checking each effect through the REST API.
  const api = async (method, url, body) => {
    const r = await fetch(`http://${address}${url}`, { method, headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${url}: ${r.status} ${text}`);
    return JSON.parse(text);
  };
  const until = async (what, f) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const v = await f();
      if (v) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const ti_of = (run, task) => api("GET", `/api/v1/dags/ops/dagRuns/${encodeURIComponent(run)}/taskInstances/${task}`);
  await page.goto(`http://${address}/#/dags/ops`);
  await page.getByTestId("dag-title").filter({ hasText: "ops" }).waitFor();
  const next = await page.getByTestId("next-run").textContent();
  if (!/^in /.test(next)) throw new Error(`next run not in the future tense: ${next}`);
  // Trigger with config: the editor holds the DAG's params.
  await page.getByTestId("trigger-with-config").click();
  const editor = page.locator('[data-testid="trigger-dialog"] textarea[name="conf"]');
  if (JSON.parse(await editor.inputValue()).fail !== "no") throw new Error(`params not prefilled: ${await editor.inputValue()}`);
  await editor.fill('{"fail": "yes"}');
  await page.getByTestId("trigger-submit").click();
  await page.locator('[data-testid="trigger-dialog"] [data-testid="op-message"]').filter({ hasText: "triggered manual__" }).waitFor();
  await page.keyboard.press("Escape");
  const manual = await until("the manual run failed", async () => {
    const r = (await api("GET", "/api/v1/dags/ops/dagRuns")).dag_runs.find((x) => x.run_type === "manual");
    return r && r.state === "failed" ? r : null;
  });
  if (manual.conf.fail !== "yes") throw new Error(`conf not passed: ${JSON.stringify(manual.conf)}`);
  // Bulk clear of failed tasks: preview, then clear; `a` runs again (and fails again).
  await page.getByTestId("clear-failed-preview").click();
  await page.getByTestId("clear-failed-confirm").click();
  await until("a's second try", async () => { const t = await ti_of(manual.dag_run_id, "a"); return t.try_number === 2 && t.state === "failed"; });
  // Mark `a` success (without downstream), then clear `b` with its downstream: b and c run, the run succeeds.
  await page.locator(`[data-testid="cell-a"][data-run="${manual.dag_run_id}"]`).click();
  await page.locator('[data-testid="ti-actions"] input[name="downstream"]').uncheck();
  await page.getByTestId("ti-mark-success").click();
  await until("a marked success", async () => (await ti_of(manual.dag_run_id, "a")).state === "success");
  if ((await ti_of(manual.dag_run_id, "b")).state !== "upstream_failed") throw new Error("b changed without include_downstream");
  await page.locator(`[data-testid="cell-b"][data-run="${manual.dag_run_id}"]`).click();
  await page.locator('[data-testid="ti-actions"] input[name="downstream"]').check();
  await page.getByTestId("ti-clear").click();
  await until("the run succeeded after the clear", async () =>
    (await api("GET", `/api/v1/dags/ops/dagRuns/${encodeURIComponent(manual.dag_run_id)}`)).state === "success");
  if ((await ti_of(manual.dag_run_id, "c")).state !== "success") throw new Error("c did not run after the clear");
  // The run panel: Gantt bars, conf, mark the run failed.
  await page.locator(`[data-testid="run-head"][data-run="${manual.dag_run_id}"]`).click();
  await page.getByTestId("gantt-c").waitFor();
  if (!(await page.getByTestId("run-conf").textContent()).includes('"fail": "yes"')) throw new Error("the run's conf is not shown");
  await page.getByTestId("run-mark-failed").click();
  await until("the run marked failed", async () =>
    (await api("GET", `/api/v1/dags/ops/dagRuns/${encodeURIComponent(manual.dag_run_id)}`)).state === "failed");
  // Backfill: a dry run lists the runs, then they are created.
  await page.locator('[data-testid="backfill"] summary').click();
  await page.locator('input[name="backfill-from"]').fill("2026-01-01");
  await page.locator('input[name="backfill-to"]').fill("2026-01-03");
  await page.getByTestId("backfill-dry-run").click();
  await page.getByTestId("backfill-plan").waitFor();
  const rows = await page.locator('[data-testid="backfill-plan"] tbody tr').count();
  if (rows !== 2) throw new Error(`the dry run lists ${rows} runs, expected 2 (01-01 and 01-02 at 03:00)`);
  if ((await api("GET", "/api/v1/dags/ops/dagRuns")).dag_runs.some((x) => x.run_type === "backfill")) throw new Error("a dry run created runs");
  await page.getByTestId("backfill-run").click();
  await until("2 backfill runs", async () => (await api("GET", "/api/v1/dags/ops/dagRuns")).dag_runs.filter((x) => x.run_type === "backfill").length === 2);
  await page.getByTestId("duration-chart").waitFor();
  await page.screenshot({ path: path.join(artifacts, "scheduler_ops.png"), fullPage: true });

  // A mapped task: the grid cell counts its instances, the task panel lists them by map index.
  await until("mapped_ui parsed", async () => {
    const r = await fetch(`http://${address}/api/v1/dags/mapped_ui`);
    return r.ok;
  });
  await api("POST", "/api/v1/dags/mapped_ui/dagRuns", { dag_run_id: "mapped" });
  await until("the mapped run failed", async () => (await api("GET", "/api/v1/dags/mapped_ui/dagRuns/mapped")).state === "failed");
  await page.goto(`http://${address}/#/dags/mapped_ui`);
  const mapped_cell = page.locator('[data-testid="cell-square"][data-run="mapped"][data-mapped="3"][data-state="failed"]');
  await mapped_cell.waitFor();
  if (!(await mapped_cell.getAttribute("title")).includes("3 mapped: 2 success, 1 failed")) {
    throw new Error(`the cell's title does not count the instances: ${await mapped_cell.getAttribute("title")}`);
  }
  await mapped_cell.click();
  await page.locator('[data-testid="map-index-2"][data-state="failed"]').click();
  await page.getByTestId("log").filter({ hasText: "three is refused" }).waitFor();
  await page.getByTestId("map-index-1").click();
  await page.getByTestId("log").filter({ hasText: "Returned value was: 4" }).waitFor();
  await page.getByTestId("xcoms").filter({ hasText: "return_value" }).waitFor();
  await page.screenshot({ path: path.join(artifacts, "scheduler_mapped.png"), fullPage: true });
  // Rendered templates per try, and the run's conf, on the task panel: a conf value holding
  // markup is shown as text (no element made, no script run).
  const markup = "<script>window.__xss = 1</script><b id=\"injected\">bold</b>";
  await until("rendered_ui parsed", async () => (await fetch(`http://${address}/api/v1/dags/rendered_ui`)).ok);
  await api("POST", "/api/v1/dags/rendered_ui/dagRuns", { dag_run_id: "xss", conf: { html: markup } });
  await until("the rendered_ui run succeeded", async () => (await api("GET", "/api/v1/dags/rendered_ui/dagRuns/xss")).state === "success");
  await page.goto(`http://${address}/#/dags/rendered_ui`);
  await page.locator('[data-testid="cell-show"][data-run="xss"][data-state="success"]').click();
  const rendered = page.locator('[data-testid="rendered"][data-try="2"] [data-testid="rendered-bash_command"]');
  await rendered.filter({ hasText: "try 2; test 2 -ge 2" }).waitFor();
  const command = await rendered.textContent();
  if (command !== `echo "${markup}" try 2; test 2 -ge 2`) throw new Error(`rendered bash_command of try 2: ${command}`);
  await page.getByTestId("try-1").click();
  await page.locator('[data-testid="rendered"][data-try="1"] [data-testid="rendered-bash_command"]')
    .filter({ hasText: "try 1; test 1 -ge 2" }).waitFor();
  await page.getByTestId("log").filter({ hasText: "try 1 failed" }).waitFor();
  if (!(await page.getByTestId("ti-run-conf").textContent()).includes(markup.replaceAll('"', '\\"'))) {
    throw new Error(`the run's conf is not on the task panel: ${await page.getByTestId("ti-run-conf").textContent()}`);
  }
  if ((await page.evaluate(() => window.__xss)) !== undefined) throw new Error("a rendered value ran as a script");
  if ((await page.locator("#injected").count()) !== 0) throw new Error("a rendered value became an HTML element");
  await page.screenshot({ path: path.join(artifacts, "scheduler_rendered.png"), fullPage: true });
  if (outside.length) throw new Error(`the UI fetched from outside this machine: ${outside.join(", ")}`);
  console.log(`ok: triggered user_automation, task green, log shown; ops DAG triggered with config, cleared, marked, backfilled; screenshot ${shot}`);
} catch (e) {
  failed = true;
  console.error(`FAILED: ${e.stack ?? e}`);
  for (const name of ["scheduler", "postgres"]) {
    const file = path.join(tmp, `${name}.log`);
    if (fs.existsSync(file)) console.error(`--- ${name} log (tail) ---\n${fs.readFileSync(file, "utf8").split("\n").slice(-30).join("\n")}`);
  }
} finally {
  if (browser) await browser.close();
  await stop_all();
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
