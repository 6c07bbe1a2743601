// Browser suite of `millrace console`: Debian's headless Chromium driven by
// playwright-core against the real broker; records produced with kcat.
// Screenshots of each page go to --artifacts.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { api, broken_job_error, check, cql_run, expect, expect_equal, finish, kcat_consume_group, kcat_produce, parse_args, start_stack, test_jobs, until } from "./lib.mjs";

const args = parse_args();
const artifacts = args.artifacts ?? path.join(process.cwd(), "console-screenshots");
fs.mkdirSync(artifacts, { recursive: true });
const stack = await start_stack(args.binary, [], true, test_jobs);
const { url } = stack;
const bootstrap = stack.broker.address;
const executable = execFileSync("sh", ["-c", "command -v chromium"]).toString().trim();
const browser = await chromium.launch({
  executablePath: executable,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
});
const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
page.setDefaultTimeout(30000);
const console_errors = [];
page.on("pageerror", (e) => console_errors.push(String(e)));
const shot = (name) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });

try {
  await check("overview loads with every component's state and the cluster", async () => {
    await page.goto(`${url}/`);
    await page.locator('[data-testid="component-broker"][data-state="green"]').waitFor();
    for (const name of ["broker", "cql", "postgres", "cdc", "processor", "scheduler", "registry"]) {
      const row = page.locator(`[data-testid="component-${name}"]`);
      await row.waitFor();
      const state = await row.getAttribute("data-state");
      expect(["green", "amber", "red"].includes(state), `${name} state ${state}`);
      expect((await row.locator(".badge").innerText()) === state, `${name} badge shows ${state}`);
      expect((await row.locator(".reason").innerText()).length > 0, `${name} shows a reason`);
    }
    expect_equal(await page.locator('[data-testid="stat-brokers"]').innerText(), "1", "brokers");
    await page.locator('[data-testid="chart-records"] canvas').waitFor();
    await shot("overview");
  });

  await check("create a topic from the topics page", async () => {
    await page.goto(`${url}/#/topics`);
    const form = page.locator('[data-testid="create-topic"]');
    await form.locator('input[name="name"]').fill("users_created");
    await form.locator('input[name="partitions"]').fill("3");
    await form.locator('textarea[name="configs"]').fill("retention.ms=86400000");
    await form.locator('button[type="submit"]').click();
    const row = page.locator('[data-testid="topic-users_created"]');
    await row.waitFor();
    expect((await row.innerText()).includes("3"), "3 partitions shown");
    await shot("topics");
  });

  const users = Array.from({ length: 20 }, (_, idx) => ({
    id: idx, gender: idx % 2 ? "male" : "female", name: { first: `first${idx}`, last: "Browser" }, email: `u${idx}@example.com`,
  }));
  kcat_produce(bootstrap, "users_created", users.map((u) => `user-${u.id}|${JSON.stringify(u)}`));

  await check("message browser shows the produced records decoded", async () => {
    await page.goto(`${url}/#/messages/users_created`);
    const form = page.locator('[data-testid="browse-form"]');
    await form.locator('select[name="from"]').selectOption("earliest");
    await form.locator('input[name="limit"]').fill("100");
    await form.locator('button[type="submit"]').click();
    await until("20 rows", async () => (await page.locator('[data-testid="record"]').count()) === 20);
    const text = await page.locator('[data-testid="records"]').innerText();
    expect(text.includes('"first":"first7"'), "decoded value of user 7 visible");
    expect(text.includes("user-7"), "key visible");
    expect(text.includes("src=kcat"), "header visible");
    expect(text.includes("json"), "format pill");
    // Expanding a value shows it pretty-printed.
    await page.locator('[data-testid="record"] .record-value summary').first().click();
    const pretty = await page.locator('[data-testid="record"] .record-value pre').first().innerText();
    expect(pretty.includes('\n  "name": {'), `pretty-printed JSON: ${pretty.slice(0, 80)}`);
    await shot("messages");
  });

  await check("message browser filters by JSON path and by text", async () => {
    const form = page.locator('[data-testid="browse-form"]');
    await form.locator('input[name="jsonpath"]').fill('$.gender == "male"');
    await form.locator('button[type="submit"]').click();
    await until("10 male rows", async () => (await page.locator('[data-testid="record"]').count()) === 10);
    const text = await page.locator('[data-testid="records"]').innerText();
    expect(!text.includes('"gender":"female"'), "no female rows");
    await form.locator('input[name="jsonpath"]').fill("");
    await form.locator('input[name="q"]').fill("u13@example");
    await form.locator('button[type="submit"]').click();
    await until("1 row", async () => (await page.locator('[data-testid="record"]').count()) === 1);
    expect((await page.locator('[data-testid="records"]').innerText()).includes("first13"), "user 13 found");
    await shot("messages-filtered");
    // Bad input shows the server's message.
    await form.locator('input[name="q"]').fill("");
    await form.locator('input[name="jsonpath"]').fill("gender");
    await form.locator('button[type="submit"]').click();
    await page.locator('[data-testid="error"]').waitFor();
    expect((await page.locator('[data-testid="error"]').innerText()).includes("400"), "400 shown");
  });

  await check("a consumer group's lag appears and drops to zero", async () => {
    kcat_consume_group(bootstrap, "dashboard-readers", "users_created");
    kcat_produce(bootstrap, "users_created", users.slice(0, 7).map((u) => `more-${u.id}|${JSON.stringify(u)}`));
    await page.goto(`${url}/#/groups`);
    const lag = page.locator('[data-testid="group-dashboard-readers"] [data-testid="group-lag"]');
    await until("lag 7 in the groups table", async () => (await lag.innerText()) === "7");
    await shot("groups-lag");
    kcat_consume_group(bootstrap, "dashboard-readers", "users_created");
    await until("lag 0 in the groups table", async () => (await lag.innerText()) === "0");
    await page.goto(`${url}/#/groups/dashboard-readers`);
    await until("group page lag 0", async () => (await page.locator('[data-testid="total-lag"]').innerText()) === "lag 0");
    await page.locator('[data-testid="lag-chart"] canvas').waitFor();
    await shot("group");
  });

  await check("reset offsets of the inactive group with a confirmation", async () => {
    await page.locator('select[name="reset-to"]').selectOption("earliest");
    await page.locator('[data-testid="reset-offsets"]').click();
    await page.locator('[data-testid="confirm-button"]').click();
    await until("lag 27 after reset", async () => (await page.locator('[data-testid="total-lag"]').innerText()) === "lag 27");
  });

  await check("topic page, pipeline, schemas and tables render", async () => {
    await page.goto(`${url}/#/topics/users_created`);
    await page.locator('[data-testid="partitions"]').waitFor();
    expect((await page.locator('[data-testid="configs"]').innerText()).includes("86400000"), "retention config shown");
    await shot("topic");
    await page.goto(`${url}/#/pipeline`);
    await page.locator('[data-testid="node-kafka"][data-state="green"]').waitFor();
    await shot("pipeline");
    const schema = JSON.stringify({ type: "record", name: "user_created", fields: [{ name: "first_name", type: "string" }] });
    const registered = await fetch(`${stack.registry_url}/subjects/users_created-value/versions`, {
      method: "POST", headers: { "Content-Type": "application/vnd.schemaregistry.v1+json" }, body: JSON.stringify({ schema }) });
    expect_equal(registered.status, 200, "schema registered");
    await page.goto(`${url}/#/schemas/users_created-value`);
    await page.locator('[data-testid="subjects"] >> text=users_created-value').waitFor();
    await until("schema text shown", async () => (await page.locator('[data-testid="schema-text"]').innerText()).includes('"first_name"'));
    await shot("schemas");
  });

  await check("the CQL browser pages through a table", async () => {
    const inserts = Array.from({ length: 60 }, (_, id) =>
      `INSERT INTO spark_streams.created_users (id, first_name, age) VALUES (${id}, 'user${id}', ${20 + id})`);
    await cql_run(stack.cql.address, [
      "CREATE KEYSPACE spark_streams WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
      "CREATE TABLE spark_streams.created_users (id int PRIMARY KEY, first_name text, age int)",
      ...inserts,
    ]);
    await page.goto(`${url}/#/tables`);
    await page.locator('a.pill >> text=created_users').click();
    const seen = new Set();
    for (let pages = 0; pages < 10; pages++) {
      await until("rows of a page", async () => (await page.locator('[data-testid="row"]').count()) > 0);
      const before = seen.size;
      for (const text of await page.locator('[data-testid="row"]').allInnerTexts()) seen.add(text.split("\t")[0].trim() + "|" + text);
      expect(seen.size > before, "each page shows new rows");
      if (pages === 0) await shot("tables");
      const next = page.locator('[data-testid="next-page"]');
      if (await next.isDisabled()) break;
      const first = await page.locator('[data-testid="row"]').first().innerText();
      await next.click();
      await until("the next page", async () => (await page.locator('[data-testid="row"]').first().innerText()) !== first);
    }
    expect_equal(seen.size, 60, "every row once across the pages");
    expect((await page.locator('[data-testid="rows"]').innerText()).includes("user"), "text cells shown");
  });

  await check("the jobs page lists each job with its state, SQL and plan, and a broken file's error", async () => {
    await page.goto(`${url}/#/jobs`);
    const relay = page.locator('[data-testid="job-relay"][data-state="running"]');
    await relay.waitFor();
    expect_equal(await relay.locator("td").first().innerText(), "relay", "job name cell");
    expect_equal(await relay.locator(".pill").innerText(), "running", "state pill");
    expect(/clicks → Kafka \S+ topic pages/.test(await relay.innerText()), `sources → sinks: ${await relay.innerText()}`);
    const broken = page.locator('[data-testid="job-broken"][data-state="error"]');
    await broken.waitFor();
    expect_equal(await broken.locator(".pill").innerText(), "error", "broken state pill");
    expect((await broken.innerText()).includes(broken_job_error), `the row shows the error: ${await broken.innerText()}`);
    expect_equal(await page.locator('[data-testid="job-sql"]').count(), 0, "no SQL before a click");
    await relay.click();
    await page.locator('[data-testid="job-sql"]').waitFor();
    expect_equal(await page.locator('[data-testid="job-sql"]').innerText(), test_jobs["relay.sql"], "the job's SQL");
    const plan = await page.locator('[data-testid="job-plan"]').innerText();
    expect(plan.includes("read clicks (kafka topic 'clicks', format json)") && plan.includes("sink pages: kafka topic 'pages', format json"),
      `the job's plan: ${plan}`);
    await shot("jobs");
    await relay.click();
    await broken.click();
    await page.locator('[data-testid="job-error"]').waitFor();
    expect((await page.locator('[data-testid="job-error"]').innerText()).includes(broken_job_error), "the full error");
    expect((await page.locator('[data-testid="job-sql"]').innerText()).includes("INSERT INTO nowhere"), "the broken file's SQL");
    expect_equal(await page.locator('[data-testid="job-plan"]').count(), 0, "no plan for a file that does not compile");
  });

  await check("operate: produce from the topic page, edit a config, replay a message", async () => {
    await page.goto(`${url}/#/topics/users_created`);
    const form = page.locator('[data-testid="produce-form"]');
    await form.locator('select[name="partition"]').selectOption("2");
    await form.locator('input[name="key"]').fill("from-the-browser");
    await form.locator('textarea[name="value"]').fill(JSON.stringify({ id: 999, name: { first: "Web" } }));
    await form.locator('textarea[name="headers"]').fill("origin=console");
    await form.locator('[data-testid="produce-button"]').click();
    const result = await form.locator('[data-testid="produce-result"]').innerText();
    const offset = Number(/offset (\d+)/.exec(result)[1]);
    let r = await api(`${url}/api/topics/users_created/messages?from=offset&offset=${offset}&partition=2&limit=1`);
    expect_equal(r.json.records[0].key.value, "from-the-browser", "the key really stored");
    expect_equal(r.json.records[0].value.value, { id: 999, name: { first: "Web" } }, "the value really stored");
    expect_equal(r.json.records[0].headers, [{ key: "origin", value: "console" }], "the header really stored");
    // A value that is not JSON: refused in the page, nothing written.
    const before = (await api(`${url}/api/topics/users_created`)).json.records;
    await form.locator('textarea[name="value"]').fill("{oops");
    await form.locator('[data-testid="produce-button"]').click();
    await until("the error shown", async () => (await form.locator('[data-testid="error"]').count()) === 1);
    expect_equal((await api(`${url}/api/topics/users_created`)).json.records, before, "nothing written");

    const editor = page.locator('[data-testid="config-editor"]');
    await editor.locator('input[name="config-name"]').fill("retention.ms");
    await editor.locator('input[name="config-value"]').fill("5400000");
    await editor.locator('[data-testid="config-set"]').click();
    await editor.locator('[data-testid="config-message"]').waitFor();
    await until("the table shows the new value", async () => (await page.locator('[data-testid="config-retention.ms"]').innerText()).includes("5400000"));
    r = await api(`${url}/api/topics/users_created`);
    expect_equal(r.json.configs.find((c) => c.name === "retention.ms").value, "5400000", "the config really changed");
    await shot("topic-operate");

    expect_equal((await api(`${url}/api/topics`, "POST", { name: "replays", partitions: 1 })).status, 201, "create replay target");
    await page.goto(`${url}/#/messages/users_created?partition=2`);
    await page.locator('select[name="from"]').selectOption("earliest").catch(() => {});
    await page.locator('button[type="submit"]').click();
    await until("records listed", async () => (await page.locator('[data-testid="record"]').count()) > 0);
    const row = page.locator('[data-testid="record"]', { hasText: "from-the-browser" });
    await row.locator('[data-testid="replay"]').click();
    await page.locator('select[name="replay-target"]').selectOption("replays");
    await page.locator('[data-testid="replay-button"]').click();
    await page.locator('[data-testid="replay-result"]').waitFor();
    r = await api(`${url}/api/topics/replays/messages?from=earliest`);
    expect_equal(r.json.records.length, 1, "one record replayed");
    expect_equal([r.json.records[0].key.value, r.json.records[0].value.value], ["from-the-browser", { id: 999, name: { first: "Web" } }], "the same record");
  });

  await check("operate: a schema's compatibility verdict before registering it", async () => {
    await page.goto(`${url}/#/schemas/users_created-value`);
    const editor = page.locator('[data-testid="schema-editor"]');
    await until("the editor holds the latest schema", async () => (await editor.locator('textarea[name="schema-text"]').inputValue()).includes("first_name"));
    expect(await editor.locator('[data-testid="schema-register"]').isDisabled(), "register waits for a check");
    const breaking = JSON.stringify({ type: "record", name: "user_created", fields: [{ name: "age", type: "int" }] });
    await editor.locator('textarea[name="schema-text"]').fill(breaking);
    await editor.locator('[data-testid="schema-check"]').click();
    await until("verdict", async () => (await editor.locator('[data-testid="schema-verdict"]').count()) === 1);
    expect((await editor.locator('[data-testid="schema-verdict"]').innerText()).includes("Not compatible"), "incompatible verdict");
    expect((await editor.locator('[data-testid="schema-reasons"] li').count()) > 0, "reasons listed");
    expect(await editor.locator('[data-testid="schema-register"]').isDisabled(), "an incompatible schema cannot be registered");
    const evolved = JSON.stringify({ type: "record", name: "user_created",
      fields: [{ name: "first_name", type: "string" }, { name: "age", type: "int", default: 0 }] });
    await editor.locator('textarea[name="schema-text"]').fill(evolved);
    expect(await editor.locator('[data-testid="schema-register"]').isDisabled(), "an edit needs a new check");
    await editor.locator('[data-testid="schema-check"]').click();
    await until("compatible", async () => (await editor.locator('[data-testid="schema-verdict"]').innerText()).includes("Compatible"));
    await editor.locator('[data-testid="schema-register"]').click();
    await editor.locator('[data-testid="schema-message"]').waitFor();
    const latest = await api(`${stack.registry_url}/subjects/users_created-value/versions/latest`);
    expect_equal(latest.json.version, 2, "version 2 really registered");
    expect(latest.json.schema.includes('"age"'), "with the new field");
    await shot("schemas-evolve");
  });

  await check("operate: the CQL page runs a SELECT, pages and exports CSV", async () => {
    await page.goto(`${url}/#/cql`);
    await page.locator('textarea[name="cql"]').fill("SELECT id, first_name FROM spark_streams.created_users");
    await page.locator('input[name="page-size"]').fill("25");
    await page.locator('[data-testid="cql-run"]').click();
    await until("25 rows", async () => (await page.locator('[data-testid="cql-row"]').count()) === 25);
    const seen = new Set(await page.locator('[data-testid="cql-row"]').allInnerTexts());
    while (!(await page.locator('[data-testid="cql-next"]').isDisabled())) {
      const first = await page.locator('[data-testid="cql-row"]').first().innerText();
      await page.locator('[data-testid="cql-next"]').click();
      await until("the next page", async () => (await page.locator('[data-testid="cql-row"]').first().innerText()) !== first);
      for (const t of await page.locator('[data-testid="cql-row"]').allInnerTexts()) seen.add(t);
    }
    expect_equal(seen.size, 60, "every row once across the pages");
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator('[data-testid="cql-csv"]').click()]);
    const csv = fs.readFileSync(await download.path(), "utf8").trim().split("\r\n");
    expect_equal(csv[0], "id,first_name", "csv header");
    expect_equal(csv.length, 61, "csv has every row");
    await shot("cql");
    await page.locator('textarea[name="cql"]').fill("DELETE FROM spark_streams.created_users WHERE id = 1");
    await page.locator('[data-testid="cql-run"]').click();
    await until("refused", async () => (await page.locator('[data-testid="error"]').count()) === 1);
    const count = await api(`${url}/api/cql`, "POST", { query: "SELECT id FROM spark_streams.created_users WHERE id = 1" });
    expect_equal(count.json.rows.length, 1, "nothing was deleted");
    await page.goto(`${url}/#/tables`);
    await until("row count on the tables page", async () =>
      (await page.locator('[data-testid="table-spark_streams.created_users"]').innerText()).includes("60 rows"));
  });

  await check("delete a topic after typing its name", async () => {
    await page.goto(`${url}/#/topics`);
    const form = page.locator('[data-testid="create-topic"]');
    await form.locator('input[name="name"]').fill("doomed");
    await form.locator('button[type="submit"]').click();
    await page.locator('[data-testid="topic-doomed"]').waitFor();
    await page.goto(`${url}/#/topics/doomed`);
    await page.locator('[data-testid="delete-topic"]').click();
    expect(await page.locator('[data-testid="confirm-button"]').isDisabled(), "disabled until the name is typed");
    await page.locator('[data-testid="confirm-input"]').fill("doomed");
    await page.locator('[data-testid="confirm-button"]').click();
    await until("back on the topics list without doomed", async () =>
      page.url().endsWith("#/topics") && (await page.locator('[data-testid="topic-users_created"]').count()) === 1 &&
      (await page.locator('[data-testid="topic-doomed"]').count()) === 0);
  });

  await check("no script errors in the page", async () => expect_equal(console_errors, [], "page errors"));
} finally {
  await browser.close();
  finish([stack.console.stderr, stack.broker.stderr]);
}
