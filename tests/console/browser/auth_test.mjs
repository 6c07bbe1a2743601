// The console with security.enabled (docs/security.md): the API asks for the
// admin user, and the web UI's header shows who is logged in. A real `millrace
// broker` (plain: the HTTP side is under test) and `millrace console`, Debian's
// headless Chromium through playwright-core with HTTP credentials, as a user
// answering the browser's login prompt would.
// Exits 77 (skipped) while this build does not declare security.enabled.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import http from "node:http";
import path from "node:path";
import { chromium } from "playwright-core";
import { check, expect, expect_equal, finish, parse_args, scratch, start, until } from "./lib.mjs";

const args = parse_args();
if (args.artifacts) fs.mkdirSync(args.artifacts, { recursive: true });
const known = execFileSync(args.binary, ["config", "show"]).toString();
if (!("\n" + known).includes("\nsecurity.enabled:")) {
  console.log("SKIP: this build does not declare security.enabled yet");
  process.exit(77);
}

const password = "console-auth-test-pw";  // a configured password: the generated one is tested elsewhere
const broker = await start(args.binary, "broker");
const root = path.join(scratch, "console-root");  // data_dir: the TLS files go to <data_dir>/tls
const consoleapp = await start(args.binary, "console", [
  "--set", `data_dir=${root}`,
  "--set", `kafka.bootstrap=${broker.address}`,
  "--set", "security.enabled=true",
  "--set", `security.admin_password=${password}`,
]);
// TLS when the servers speak it (the generated CA under data_dir).
const ca_path = path.join(root, "tls", "ca.pem");
const tls = fs.existsSync(ca_path);
const url = `${tls ? "https" : "http"}://${consoleapp.address}`;

// GET with optional Basic credentials through node:http(s), trusting the CA.
function get(target, auth) {
  const headers = auth ? { Authorization: "Basic " + Buffer.from(auth).toString("base64") } : {};
  const lib = tls ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(`${url}${target}`, { headers, ...(tls ? { ca: fs.readFileSync(ca_path) } : {}) }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const executable = execFileSync("sh", ["-c", "command -v chromium"]).toString().trim();
const browser = await chromium.launch({
  executablePath: executable,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
});

try {
  await check("the console's API: 401 without or with wrong credentials, 200 with the admin user's", async () => {
    const none = await get("/api/overview");
    expect_equal(none.status, 401, "no credentials");
    expect(String(none.headers["www-authenticate"]).startsWith('Basic realm="millrace"'), `challenge ${none.headers["www-authenticate"]}`);
    expect_equal((await get("/api/overview", `admin:${password}x`)).status, 401, "wrong password");
    // The overview answers 503 until the console's first sample, which probes every part's admin
    // endpoint (a default port held by another millrace can make it wait its timeout): waited for,
    // so that this checks credentials, not timing.
    await until("the console's first sample", async () => (await get("/api/overview", `admin:${password}`)).status !== 503, 120000);
    expect_equal((await get("/api/overview", `admin:${password}`)).status, 200, "right password");
    expect_equal((await get("/")).status, 401, "the page itself needs credentials");
  });

  await check("the header shows the logged-in user", async () => {
    // ignoreHTTPSErrors: the generated CA is not in Chromium's store; TLS itself is checked by the TLS suites.
    const context = await browser.newContext({ httpCredentials: { username: "admin", password }, ignoreHTTPSErrors: true });
    const page = await context.newPage();
    page.setDefaultTimeout(30000);
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${url}/`);
    const user = page.locator('[data-testid="logged-in-user"]');
    await user.waitFor();
    expect_equal(await user.innerText(), "admin", "user in the header");
    expect_equal(await user.getAttribute("title"), "authenticated by basic", "how");
    // The UI's own API calls carry the browser's credentials: the overview fills in.
    await page.locator('[data-testid="component-broker"]').waitFor();
    await page.screenshot({ path: path.join(args.artifacts ?? scratch, "logged-in.png") });
    expect_equal(errors, [], "page errors");
    await context.close();
  });

  await check("a browser with a wrong password sees no console", async () => {
    const context = await browser.newContext({ httpCredentials: { username: "admin", password: "wrong" }, ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const response = await page.goto(`${url}/`);
    expect_equal(response.status(), 401, "page status");
    expect_equal(await page.locator('[data-testid="logged-in-user"]').count(), 0, "no user shown");
    await context.close();
  });
} finally {
  await browser.close();
  finish([consoleapp.stderr, broker.stderr]);
}
