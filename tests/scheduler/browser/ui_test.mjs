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
  if (outside.length) throw new Error(`the UI fetched from outside this machine: ${outside.join(", ")}`);
  console.log(`ok: triggered user_automation, task green, log shown; screenshot ${shot}`);
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
