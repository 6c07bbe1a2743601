// Shared by the console's API and browser suites: start the real `millrace
// broker` and `millrace console` on ephemeral ports (wait for their ready
// lines, never a fixed sleep), produce with kcat, poll until a condition holds,
// and count passes and failures.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export function parse_args() {
  const args = { binary: null, artifacts: null };
  for (let idx = 2; idx < process.argv.length; idx += 2) {
    const name = process.argv[idx].replace(/^--/, "");
    args[name] = process.argv[idx + 1];
  }
  if (!args.binary) throw new Error("usage: --binary build/millrace [--artifacts dir]");
  return args;
}

const children = [];
export const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "millrace-console-"));

export function cleanup() {
  for (const child of children) {
    if (child.exitCode === null) child.kill("SIGTERM");
  }
  setTimeout(() => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    fs.rmSync(scratch, { recursive: true, force: true });
  }, 3000).unref();
}
process.on("exit", () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
});

// Starts `millrace <command> ...` and resolves { address, admin, stderr() } on its ready line
// (`millrace process` has no main listener: with_port false leaves out --port).
export function start(binary, command, extra = [], with_port = true) {
  const data_dir = path.join(scratch, command);
  const port = with_port ? ["--port", "0"] : [];
  const child = spawn(binary, [command, ...port, "--admin-port", "0", "--data-dir", data_dir, ...extra], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`millrace ${command} not ready within 60 s; stderr:\n${stderr}`)), 60000);
    child.stdout.on("data", (d) => {
      out += d;
      const line = out.split("\n").find((l) => l.startsWith("ready "));
      if (line) {
        clearTimeout(timer);
        const words = line.trim().split(/\s+/);
        resolve({ address: words[2], admin: words[4], stderr: () => stderr, child });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`millrace ${command} exited with ${code}; stderr:\n${stderr}`));
    });
  });
}

// The job files the Jobs suites run: one that works (clicks → pages, both
// Kafka topics auto-created by the broker) and one that does not compile.
export const test_jobs = {
  "relay.sql": [
    "-- Upper-cases the page of every click.",
    "SET 'properties.group.id' = 'console-jobs-relay';",
    "CREATE TABLE clicks (id BIGINT NOT NULL, page STRING)",
    "  WITH ('connector' = 'kafka', 'topic' = 'clicks', 'format' = 'json', 'scan.startup.mode' = 'earliest-offset');",
    "CREATE TABLE pages (id BIGINT, page STRING) WITH ('connector' = 'kafka', 'topic' = 'pages', 'format' = 'json');",
    "INSERT INTO pages SELECT id, UPPER(page) AS page FROM clicks;",
    "",
  ].join("\n"),
  "broken.sql": [
    "CREATE TABLE clicks (id BIGINT) WITH ('connector' = 'kafka', 'topic' = 'clicks', 'format' = 'json');",
    "INSERT INTO nowhere SELECT id FROM clicks;",
    "",
  ].join("\n"),
};
// What the compiler says about broken.sql, after its path.
export const broken_job_error = "broken.sql:2:13: INSERT INTO nowhere: no such table";

// The real broker, the real schema registry (storing its schemas in Kafka)
// and the console reading both. With `jobs` ({ "<name>.sql": text }), also a
// real `millrace process` running those job files (against the broker and
// the CQL store, so with_cql), its admin endpoint among the console's. The
// jobs' source topic `clicks` is created first (a metadata request for it,
// which the broker answers by creating it): a consumer does not create topics.
// A loopback port nothing listens on (bound, then closed): the tests' "down"
// scheduler, never the default :8080, where a `millrace up` may be running.
async function closed_port() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function start_stack(binary, console_extra = [], with_cql = false, jobs = null) {
  const broker = await start(binary, "broker");
  const registry = await start(binary, "registry", ["--set", `kafka.bootstrap=${broker.address}`]);
  const cql = with_cql ? await start(binary, "cql") : null;
  if (cql) console_extra = [...console_extra, "--set", `cql.contact_points=${cql.address}`];
  let processor = null;
  const admins = [broker.admin, registry.admin];
  if (jobs) {
    const jobs_dir = path.join(scratch, "jobs");
    fs.mkdirSync(jobs_dir, { recursive: true });
    for (const [file, text] of Object.entries(jobs)) fs.writeFileSync(path.join(jobs_dir, file), text);
    execFileSync("kcat", ["-b", broker.address, "-L", "-t", "clicks"], { timeout: 60000 });
    processor = await start(binary, "process", [
      "--set", `kafka.bootstrap=${broker.address}`,
      ...(cql ? ["--set", `cql.contact_points=${cql.address}`] : []),
      "--set", `processor.jobs_dir=${jobs_dir}`,
      "--set", "processor.scan_interval=200ms",
      "--set", "processor.commit_interval=200ms",
    ], false);
    admins.push(processor.admin);
  }
  const consoleapp = await start(binary, "console", [
    "--set", `kafka.bootstrap=${broker.address}`,
    "--set", `console.admin_endpoints=${admins.join(",")}`,
    "--set", `console.registry_url=http://${registry.address}`,
    "--set", "console.sample_interval=500ms",
    "--set", `console.scheduler_url=http://127.0.0.1:${await closed_port()}`,
    ...console_extra,
  ]);
  return { broker, registry, cql, processor, console: consoleapp, url: `http://${consoleapp.address}`, registry_url: `http://${registry.address}` };
}

// Avro binary of {first: string, age: int} (zig-zag varints), Confluent-framed.
export function avro_user(schema_id, first, age) {
  const zigzag = (n) => {
    const out = [];
    let v = (n << 1) ^ (n >> 31);
    while (v & ~0x7f) {
      out.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    out.push(v);
    return out;
  };
  const text = Buffer.from(first, "utf8");
  const header = Buffer.from([0, (schema_id >>> 24) & 255, (schema_id >>> 16) & 255, (schema_id >>> 8) & 255, schema_id & 255]);
  return Buffer.concat([header, Buffer.from(zigzag(text.length)), text, Buffer.from(zigzag(age))]);
}

// Produces each buffer as one record (kcat sends each file argument as one message).
export function kcat_produce_files(bootstrap, topic, buffers) {
  const files = buffers.map((b, idx) => {
    const file = path.join(scratch, `record-${Date.now()}-${idx}.bin`);
    fs.writeFileSync(file, b);
    return file;
  });
  execFileSync("kcat", ["-b", bootstrap, "-t", topic, "-P", ...files], { timeout: 60000 });
}

// Produces `lines` ("key|value") with kcat, each with header src=kcat.
export function kcat_produce(bootstrap, topic, lines, extra = []) {
  execFileSync("kcat", ["-b", bootstrap, "-t", topic, "-P", "-K", "|", "-H", "src=kcat", ...extra], {
    input: lines.join("\n") + "\n",
    timeout: 60000,
  });
}

// Reads `topic` to its end as consumer group `group`; kcat commits the offsets
// it consumed when it exits (with auto-commit off it commits synchronously).
export function kcat_consume_group(bootstrap, group, topic) {
  return execFileSync("kcat", ["-b", bootstrap, "-G", group, "-o", "beginning", "-e", "-q",
                               "-X", "enable.auto.commit=false", topic], { timeout: 60000 }).toString();
}

export async function until(what, check, timeout_ms = 30000) {
  const deadline = Date.now() + timeout_ms;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

let passed = 0, failed = 0;
export async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`[PASS] ${name}`);
  } catch (e) {
    failed++;
    console.log(`[FAIL] ${name}: ${e.stack ?? e}`);
  }
}

export function expect_equal(actual, expected, what) {
  const a = JSON.stringify(actual), b = JSON.stringify(expected);
  if (a !== b) throw new Error(`${what}: expected ${b}, got ${a}`);
}

export function expect(condition, what) {
  if (!condition) throw new Error(what);
}

export function finish(extra_stderr = []) {
  console.log(`${passed} passed, ${failed} failed`);
  if (failed) for (const s of extra_stderr) console.log(s().split("\n").slice(-40).join("\n"));
  cleanup();
  process.exitCode = failed ? 1 : 0;
}

export async function api(url, method = "GET", body) {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text, headers: res.headers };
}

// Runs CQL statements over the native protocol v4 (STARTUP, then one QUERY
// per statement at consistency ONE), failing on an ERROR answer. Enough to
// fill a table for the browser suite without another client library.
export async function cql_run(address, statements) {
  const net = await import("node:net");
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
  const socket = net.createConnection({ host, port });
  await new Promise((resolve, reject) => (socket.once("connect", resolve), socket.once("error", reject)));
  let buffered = Buffer.alloc(0);
  const waiters = [];
  socket.on("data", (d) => {
    buffered = Buffer.concat([buffered, d]);
    while (buffered.length >= 9 && buffered.length >= 9 + buffered.readUInt32BE(5)) {
      const length = buffered.readUInt32BE(5);
      const frame = { opcode: buffered[4], body: buffered.subarray(9, 9 + length) };
      buffered = buffered.subarray(9 + length);
      waiters.shift()(frame);
    }
  });
  const send = (opcode, body) => new Promise((resolve) => {
    waiters.push(resolve);
    const head = Buffer.alloc(9);
    head[0] = 0x04;
    head.writeInt16BE(0, 2);
    head[4] = opcode;
    head.writeUInt32BE(body.length, 5);
    socket.write(Buffer.concat([head, body]));
  });
  const short_string = (s) => { const b = Buffer.from(s); const h = Buffer.alloc(2); h.writeUInt16BE(b.length); return Buffer.concat([h, b]); };
  const pairs = Buffer.alloc(2);
  pairs.writeUInt16BE(1);
  const ready = await send(0x01, Buffer.concat([pairs, short_string("CQL_VERSION"), short_string("3.0.0")]));
  if (ready.opcode !== 0x02) throw new Error(`CQL STARTUP answered opcode ${ready.opcode}`);
  for (const statement of statements) {
    const text = Buffer.from(statement);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(text.length);
    const tail = Buffer.from([0x00, 0x01, 0x00]);  // consistency ONE, no flags
    const answer = await send(0x07, Buffer.concat([length, text, tail]));
    if (answer.opcode === 0x00) throw new Error(`CQL error for '${statement}': ${answer.body.subarray(6).toString()}`);
  }
  socket.end();
}
