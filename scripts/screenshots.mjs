// See scripts/screenshots. Every listener on an ephemeral port, so a
// `millrace up` on the default ports may keep running meanwhile.
import { spawn, execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const [binary, repo, out] = process.argv.slice(2);
const { chromium } = createRequire(path.join(repo, "tests/console/browser/package.json"))("playwright-core");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "millrace-screenshots-"));
fs.chmodSync(tmp, 0o755);  // the postgres user reaches its cluster inside

const known = execFileSync(binary, ["config", "show"], { encoding: "utf8" });
const ports = ["broker.port", "cql.port", "source.port", "postgres.port", "scheduler.port", "registry.port", "console.port"]
  .filter((key) => known.includes(`\n${key}:`))
  .flatMap((key) => ["--set", `${key}=0`]);
const up = spawn(binary, ["up", "--data-dir", path.join(tmp, "data"), "--set", "up.admin_port=0", ...ports], { stdio: ["ignore", "pipe", "pipe"] });
const log = fs.createWriteStream(path.join(tmp, "up.log"));
up.stderr.pipe(log);

const admin = await new Promise((resolve, reject) => {
  let text = "";
  const timer = setTimeout(() => reject(new Error(`millrace up not ready within 180 s; see ${tmp}/up.log`)), 180_000);
  up.stdout.on("data", (d) => {
    text += d;
    const line = text.split("\n").find((l) => l.startsWith("ready up "));
    if (line) {
      clearTimeout(timer);
      resolve(line.split(/\s+/)[2]);
    }
  });
  up.on("exit", (code) => reject(new Error(`millrace up exited with ${code}; see ${tmp}/up.log`)));
});

const get = async (url, init) => {
  const r = await fetch(url, init);
  if (!r.ok) throw new Error(`${init?.method ?? "GET"} ${url}: ${r.status} ${await r.text()}`);
  return r.json();
};
const until = async (what, f, seconds = 180) => {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
};

let browser;
try {
  const parts = Object.fromEntries((await get(`http://${admin}/status`)).components.map((c) => [c.name, c.address]));
  const scheduler = `http://${parts.scheduler}`;
  const console_url = `http://${parts.console}`;
  await until("user_automation", () => get(`${scheduler}/api/v1/dags/user_automation`));
  const run = await get(`${scheduler}/api/v1/dags/user_automation/dagRuns`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ conf: { count: 2000 } }) });
  await until("the run's success", async () =>
    (await get(`${scheduler}/api/v1/dags/user_automation/dagRuns/${encodeURIComponent(run.dag_run_id)}`)).state === "success");

  browser = await chromium.launch({
    executablePath: execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim(),
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(60_000);
  fs.mkdirSync(out, { recursive: true });
  const shot = async (name, url, ready) => {
    await page.goto(url);
    if (ready) await ready();
    await page.waitForTimeout(1500);  // let charts draw and the first poll land before the picture (not a readiness wait)
    await page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });
    console.log(`docs/images/${name}.png`);
  };
  await shot("scheduler-dags", `${scheduler}/`, () => page.getByTestId("dag-row-user_automation").waitFor());
  await shot("scheduler-dag", `${scheduler}/#/dags/user_automation`, async () => {
    await page.locator('[data-testid="cell-stream_data_from_api"][data-state="success"]').first().waitFor();
    await page.locator('[data-testid="cell-stream_data_from_api"][data-state="success"]').last().click();
    await page.getByTestId("log-summary").waitFor();
  });
  await until("rows in the table", async () => (await get(`${console_url}/api/tables`)).keyspaces.length > 0);
  await shot("console-overview", `${console_url}/#/overview`, () => page.locator('[data-testid="chart-records"] canvas').waitFor());
  await shot("console-pipeline", `${console_url}/#/pipeline`, () => page.locator('[data-testid="node-kafka"]').waitFor());
  await shot("console-topic", `${console_url}/#/topics/users_created`, () => page.getByTestId("produce-form").waitFor());
  await shot("console-messages", `${console_url}/#/messages/users_created`, async () => {
    await page.locator('button[type="submit"]').click();
    await page.locator('[data-testid="record"]').first().waitFor();
  });
  await shot("console-tables", `${console_url}/#/tables/spark_streams/created_users`, () => page.locator('[data-testid="row"]').first().waitFor());
  await shot("console-cql", `${console_url}/#/cql`, async () => {
    await page.locator('textarea[name="cql"]').fill("SELECT first_name, last_name, email, registered_date FROM spark_streams.created_users");
    await page.getByTestId("cql-run").click();
    await page.locator('[data-testid="cql-row"]').first().waitFor();
  });
} finally {
  if (browser) await browser.close();
  up.kill("SIGTERM");
  await new Promise((resolve) => (up.exitCode !== null ? resolve() : up.on("exit", resolve)));
  fs.rmSync(tmp, { recursive: true, force: true });
}
