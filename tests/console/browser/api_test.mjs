// API suite of `millrace console` against a real `millrace broker`, with kcat
// as the producer and consumer-group client.
import { api, avro_user, broken_job_error, check, cql_run, kcat_produce_files, expect, expect_equal, finish, kcat_consume_group, kcat_produce, parse_args, start_stack, test_jobs, until } from "./lib.mjs";

const args = parse_args();
const stack = await start_stack(args.binary, [], true, test_jobs);
const { url } = stack;
const bootstrap = stack.broker.address;
const users = Array.from({ length: 30 }, (_, idx) => ({
  id: idx,
  gender: idx % 2 === 0 ? "female" : "male",
  name: { first: `user${idx}`, last: "Tester" },
  dob: { age: 20 + idx },
}));

try {
  await check("overview: cluster, brokers and component states arrive", async () => {
    const o = await until("the first overview", async () => {
      const r = await api(`${url}/api/overview`);
      return r.status === 200 && r.json.cluster ? r.json : null;
    });
    expect_equal(o.cluster.brokers.length, 1, "brokers");
    expect(o.cluster.id.length > 0, "a cluster id");
    const broker = o.components.find((c) => c.name === "broker");
    expect_equal(broker.state, "green", "broker state");
    expect_equal(broker.admin, stack.broker.admin, "broker admin endpoint found");
    for (const name of ["broker", "cql", "postgres", "cdc", "processor", "scheduler", "registry"]) {
      const c = o.components.find((x) => x.name === name);
      expect(c && ["green", "amber", "red"].includes(c.state) && c.reason.length > 0, `component ${name} has a state and a reason`);
    }
  });

  await check("create topic: 201, then 409 for a duplicate and 400 for bad input", async () => {
    let r = await api(`${url}/api/topics`, "POST", { name: "users_created", partitions: 3, configs: { "retention.ms": "3600000" } });
    expect_equal(r.status, 201, `create status (${r.text})`);
    r = await api(`${url}/api/topics`, "POST", { name: "users_created", partitions: 3 });
    expect_equal(r.status, 409, "duplicate status");
    expect(r.json.error.includes("users_created"), `duplicate message names the topic: ${r.json.error}`);
    r = await api(`${url}/api/topics`, "POST", { name: "bad name!", partitions: 1 });
    expect_equal(r.status, 400, "bad name status");
    r = await api(`${url}/api/topics`, "POST", { name: "ok", partitions: 0 });
    expect_equal(r.status, 400, "zero partitions status");
    r = await api(`${url}/api/topics`, "POST", "not json");
    expect_equal(r.status, 400, "non-JSON body status");
  });

  await check("topic detail: partitions and configs through DescribeConfigs", async () => {
    const r = await api(`${url}/api/topics/users_created`);
    expect_equal(r.status, 200, "status");
    expect_equal(r.json.partitions.map((p) => p.partition), [0, 1, 2], "partitions");
    const retention = r.json.configs.find((c) => c.name === "retention.ms");
    expect_equal(retention.value, "3600000", "retention.ms");
    expect_equal(retention.default, false, "retention.ms is set on the topic");
  });

  kcat_produce(bootstrap, "users_created", users.map((u) => `user-${u.id}|${JSON.stringify(u)}`));

  await check("messages from earliest: every record, decoded as JSON, with key and header", async () => {
    const r = await api(`${url}/api/topics/users_created/messages?from=earliest&limit=100`);
    expect_equal(r.status, 200, "status");
    expect_equal(r.json.records.length, 30, "record count");
    const seven = r.json.records.find((x) => x.key.value === "user-7");
    expect_equal(seven.value.format, "json", "value format");
    expect_equal(seven.value.value, users[7], "decoded value");
    expect_equal(seven.headers, [{ key: "src", value: "kcat" }], "headers");
    const ids = r.json.records.map((x) => x.value.value.id).sort((a, b) => a - b);
    expect_equal(ids, users.map((u) => u.id), "every id once");
  });

  await check("messages: latest N, partition, offset and timestamp starts", async () => {
    let r = await api(`${url}/api/topics/users_created/messages?from=latest&limit=5`);
    expect_equal(r.json.records.length, 5, "latest limit");
    const detail = (await api(`${url}/api/topics/users_created`)).json;
    const p0 = detail.partitions.find((p) => p.partition === 0);
    r = await api(`${url}/api/topics/users_created/messages?from=earliest&partition=0&limit=100`);
    expect_equal(r.json.records.length, p0.end_offset, "partition 0 count");
    expect(r.json.records.every((x) => x.partition === 0), "only partition 0");
    r = await api(`${url}/api/topics/users_created/messages?from=offset&offset=1&partition=0&limit=100`);
    expect_equal(r.json.records.map((x) => x.offset)[0], 1, "starts at offset 1");
    expect_equal(r.json.records.length, p0.end_offset - 1, "from offset 1 count");
    r = await api(`${url}/api/topics/users_created/messages?from=timestamp&timestamp=2000-01-01T00:00:00Z&limit=100`);
    expect_equal(r.json.records.length, 30, "from an old timestamp: all");
    r = await api(`${url}/api/topics/users_created/messages?from=timestamp&timestamp=${Date.now() + 3600000}&limit=100`);
    expect_equal(r.json.records.length, 0, "from a future timestamp: none");
  });

  await check("messages: text and JSON-path filters", async () => {
    let r = await api(`${url}/api/topics/users_created/messages?from=earliest&limit=100&jsonpath=${encodeURIComponent('$.gender == "female"')}`);
    expect_equal(r.json.records.length, 15, "female count");
    expect(r.json.records.every((x) => x.value.value.gender === "female"), "only female");
    r = await api(`${url}/api/topics/users_created/messages?from=earliest&limit=100&jsonpath=${encodeURIComponent("$.dob.age >= 45")}`);
    expect_equal(r.json.records.length, 5, "age >= 45 count");
    r = await api(`${url}/api/topics/users_created/messages?from=earliest&limit=100&q=USER2`);
    expect_equal(r.json.records.map((x) => x.value.value.id).sort((a, b) => a - b), [2, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29], "text filter");
  });

  await check("bad input: unknown topic 404, invalid offsets and parameters 400, each with a message", async () => {
    let r = await api(`${url}/api/topics/no_such_topic/messages`);
    expect_equal(r.status, 404, "unknown topic (messages)");
    expect(r.json.error.includes("no_such_topic"), `message names the topic: ${r.json.error}`);
    r = await api(`${url}/api/topics/no_such_topic`);
    expect_equal(r.status, 404, "unknown topic (detail)");
    r = await api(`${url}/api/topics/no_such_topic`, "DELETE");
    expect_equal(r.status, 404, "unknown topic (delete)");
    for (const [query, needle] of [
      ["from=offset&offset=abc", "offset 'abc' is not a whole number"],
      ["from=offset&offset=-3", "offset -3 is out of range"],
      ["from=offset", "from=offset needs offset"],
      ["from=offset&offset=999&partition=0", "offset 999 is past the end of users_created-0"],
      ["partition=9", "partition 9 does not exist in topic 'users_created'"],
      ["partition=x", "partition 'x' is not a whole number"],
      ["from=yesterday", "from must be earliest, latest, offset or timestamp"],
      ["from=timestamp&timestamp=noon", "timestamp 'noon'"],
      ["limit=0", "limit 0 is out of range"],
      ["jsonpath=gender", "jsonpath: at character 1"],
    ]) {
      r = await api(`${url}/api/topics/users_created/messages?${query}`);
      expect_equal(r.status, 400, `status of ${query}`);
      expect(r.json.error.includes(needle), `${query}: '${r.json.error}' should contain '${needle}'`);
    }
    r = await api(`${url}/api/nothing/here`);
    expect_equal(r.status, 404, "unknown endpoint");
    r = await api(`${url}/api/topics/users_created/messages?from=earliest&limit=1`);
    expect_equal(r.status, 200, "still serving after bad input");
  });

  await check("consumer group: lag appears, drops to zero, reset of an inactive group", async () => {
    kcat_consume_group(bootstrap, "readers", "users_created");
    let g = await until("group readers at lag 0", async () => {
      const r = await api(`${url}/api/groups/readers`);
      return r.status === 200 && r.json.lag === 0 ? r.json : null;
    });
    expect_equal(g.offsets.length, 3, "committed partitions");
    kcat_produce(bootstrap, "users_created", users.slice(0, 10).map((u) => `again-${u.id}|${JSON.stringify(u)}`));
    g = await until("lag 10", async () => {
      const r = await api(`${url}/api/groups`);
      const row = r.json.groups.find((x) => x.group_id === "readers");
      return row && row.lag === 10 ? row : null;
    });
    expect_equal(g.state, "Empty", "the group has no members now");
    await until("lag history shows 10", async () => {
      const r = await api(`${url}/api/history?series=lag/readers`);
      return r.json.series["lag/readers"].some((p) => p[1] === 10);
    });
    let r = await api(`${url}/api/groups/readers/reset`, "POST", { to: "earliest", dry_run: true });
    expect_equal(r.status, 200, "dry run");
    expect_equal(r.json.partitions.reduce((s, p) => s + p.lag_after, 0), 40, "dry run lag after");
    expect_equal((await api(`${url}/api/groups/readers`)).json.lag, 10, "dry run changed nothing");
    r = await api(`${url}/api/groups/readers/reset`, "POST", { to: "earliest" });
    expect_equal(r.status, 200, `reset (${r.text})`);
    expect_equal((await api(`${url}/api/groups/readers`)).json.lag, 40, "lag after reset to earliest");
    r = await api(`${url}/api/groups/readers/reset`, "POST", { to: "latest" });
    expect_equal((await api(`${url}/api/groups/readers`)).json.lag, 0, "lag after reset to latest");
    r = await api(`${url}/api/groups/readers/reset`, "POST", { to: "sideways" });
    expect_equal(r.status, 400, "bad reset target");
    r = await api(`${url}/api/groups/nobody`);
    expect_equal(r.status, 404, "unknown group");
    expect(r.json.error.includes("nobody"), "message names the group");
  });

  await check("rates: records in appear in the history after producing", async () => {
    kcat_produce(bootstrap, "users_created", users.map((u) => `rate-${u.id}|${JSON.stringify(u)}`));
    await until("a positive records_in rate", async () => {
      const r = await api(`${url}/api/history?series=records_in,topic_in/*`);
      return r.json.series.records_in.some((p) => p[1] > 0) && r.json.series["topic_in/users_created"].some((p) => p[1] > 0);
    });
  });

  await check("server-sent events: /api/events pushes overviews", async () => {
    const controller = new AbortController();
    const res = await fetch(`${url}/api/events`, { signal: controller.signal });
    expect_equal(res.headers.get("content-type"), "text/event-stream", "content type");
    const reader = res.body.getReader();
    let text = "";
    while (!text.includes("event: overview\ndata: {")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    controller.abort();
    expect(text.includes("event: overview\ndata: {"), "an overview event");
  });

  await check("live tail: a record produced after the tail opens arrives as an event", async () => {
    const controller = new AbortController();
    const res = await fetch(`${url}/api/tail/users_created?q=tail-me`, { signal: controller.signal });
    const reader = res.body.getReader();
    let text = "";
    const read_until = async (needle) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    };
    await read_until("event: started");
    kcat_produce(bootstrap, "users_created", ['skip|{"id":1}', 'k|{"note":"tail-me"}']);
    await read_until("tail-me");
    controller.abort();
    expect(text.includes('"note":"tail-me"'), "the record arrived");
    expect(!text.includes('"key":{"format":"text","size":4,"value":"skip"}'), "the filtered record did not");
  });

  await check("delete topic: 200, then it is gone", async () => {
    let r = await api(`${url}/api/topics`, "POST", { name: "doomed", partitions: 1 });
    expect_equal(r.status, 201, "create");
    r = await api(`${url}/api/topics/doomed`, "DELETE");
    expect_equal(r.status, 200, "delete");
    await until("doomed gone", async () => (await api(`${url}/api/topics/doomed`)).status === 404);
  });

  await check("cross-site shaped requests are refused (403/415) and change nothing", async () => {
    const http = await import("node:http");
    const target = new URL(url);
    // Node sends bodies without a length chunked, which the servers refuse; say the length.
    const sized = (headers, body) => body === undefined ? headers : { ...headers, "Content-Length": Buffer.byteLength(body) };
    const raw = (method, path, headers, body) => new Promise((resolve, reject) => {
      const req = http.request({ host: target.hostname, port: target.port, method, path, headers: sized(headers, body) }, (res) => {
        let text = "";
        res.on("data", (chunk) => { text += chunk; });
        res.on("end", () => resolve({ status: res.statusCode, text }));
      });
      req.on("error", reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
    const create = JSON.stringify({ name: "xsite", partitions: 1 });
    let r = await raw("POST", "/api/topics", { "Content-Type": "application/json", Origin: "http://evil.example" }, create);
    expect_equal(r.status, 403, `foreign Origin (${r.text})`);
    expect(r.text.includes("evil.example"), `the refusal names the origin: ${r.text}`);
    r = await raw("POST", "/api/topics", { "Content-Type": "application/json", Host: `attacker.example:${target.port}` }, create);
    expect_equal(r.status, 403, `DNS-rebinding Host (${r.text})`);
    r = await raw("POST", "/api/topics", { "Content-Type": "text/plain" }, create);
    expect_equal(r.status, 415, `text/plain body (${r.text})`);
    r = await raw("DELETE", "/api/topics/users_created", { Origin: "http://evil.example" });
    expect_equal(r.status, 403, `cross-site DELETE (${r.text})`);
    r = await raw("POST", "/api/groups/readers/reset", { "Content-Type": "text/plain", Origin: "http://evil.example" },
      JSON.stringify({ to: "earliest" }));
    expect([403, 415].includes(r.status), `cross-site offset reset (${r.status})`);
    expect_equal((await api(`${url}/api/topics/xsite`)).status, 404, "no topic was created");
    expect_equal((await api(`${url}/api/topics/users_created`)).status, 200, "the topic is still there");
    // The registry and the admin endpoint refuse the same shapes.
    const registry = new URL(stack.registry_url);
    const to_registry = (method, path, headers, body) => new Promise((resolve, reject) => {
      const req = http.request({ host: registry.hostname, port: registry.port, method, path, headers: sized(headers, body) }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode));
      });
      req.on("error", reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
    expect_equal(await to_registry("PUT", "/mode", { "Content-Type": "text/plain" }, '{"mode":"READONLY"}'), 415, "registry text/plain");
    expect_equal(await to_registry("PUT", "/mode", { "Content-Type": "application/json", Origin: "http://evil.example" },
      '{"mode":"READONLY"}'), 403, "registry foreign Origin");
  });

  await check("schemas: subjects through the registry, Avro records decoded in the browser", async () => {
    const schema = JSON.stringify({ type: "record", name: "user", namespace: "millrace.test",
      fields: [{ name: "first", type: "string" }, { name: "age", type: "int" }] });
    let r = await api(`${stack.registry_url}/subjects/avro_users-value/versions`, "POST", { schema });
    expect_equal(r.status, 200, `register (${r.text})`);
    const id = r.json.id;
    r = await api(`${url}/api/schemas`);
    expect_equal(r.status, 200, `schemas (${r.text})`);
    const subject = r.json.subjects.find((x) => x.subject === "avro_users-value");
    expect(subject && subject.latest === 1 && subject.id === id, `subject listed: ${JSON.stringify(r.json.subjects)}`);
    r = await api(`${url}/api/schemas/subjects/avro_users-value`);
    expect(JSON.parse(r.json.schema.schema).name.endsWith("user"), `schema text: ${r.json.schema.schema}`);
    r = await api(`${url}/api/schemas/subjects/nope-value`);
    expect_equal(r.status, 404, "unknown subject");
    expect_equal((await api(`${url}/api/topics`, "POST", { name: "avro_users", partitions: 1 })).status, 201, "create avro topic");
    kcat_produce_files(bootstrap, "avro_users", [avro_user(id, "Ada", 36), avro_user(id, "Grace", 45), avro_user(9999, "Nobody", 1)]);
    r = await api(`${url}/api/topics/avro_users/messages?from=earliest`);
    expect_equal(r.json.records.length, 3, "avro records");
    expect_equal(r.json.records[0].value.format, "avro", "format");
    expect_equal(r.json.records[0].value.schema_id, id, "schema id");
    expect_equal(r.json.records[0].value.value, { first: "Ada", age: 36 }, "decoded Avro");
    expect_equal(r.json.records[2].value.format, "binary", "unknown schema id stays binary");
    expect(r.json.records[2].value.error.includes("9999"), `error names the schema id: ${r.json.records[2].value.error}`);
    r = await api(`${url}/api/topics/avro_users/messages?from=earliest&jsonpath=${encodeURIComponent("$.age > 40")}`);
    expect_equal(r.json.records.map((x) => x.value.value.first), ["Grace"], "JSON path over Avro");
  });

  await check("produce: JSON with key and headers lands at the offset answered; bad input is refused", async () => {
    expect_equal((await api(`${url}/api/topics`, "POST", { name: "produced", partitions: 2 })).status, 201, "create topic");
    let r = await api(`${url}/api/topics/produced/messages`, "POST",
      { partition: 1, key: "k-1", value: { id: 7, name: "Zoë" }, headers: [{ key: "source", value: "console" }, { key: "bin", value: "AAE=", encoding: "base64" }] });
    expect_equal(r.status, 201, `produce (${r.text})`);
    expect_equal(r.json.partition, 1, "partition chosen");
    const at = r.json.offset;
    r = await api(`${url}/api/topics/produced/messages`, "POST", { partition: 1, key: null, value: "plain words", format: "text" });
    expect_equal(r.status, 201, `text (${r.text})`);
    expect_equal(r.json.offset, at + 1, "next offset");
    r = await api(`${url}/api/topics/produced/messages?from=earliest&partition=1&limit=10`);
    const first = r.json.records.find((x) => x.offset === at);
    expect_equal(first.key.value, "k-1", "key");
    expect_equal(first.value.value, { id: 7, name: "Zoë" }, "value");
    expect_equal(first.headers[0], { key: "source", value: "console" }, "text header");
    expect_equal(first.headers[1].encoding, "base64", "binary header stays binary");
    expect_equal(first.headers[1].value, "AAE=", "binary header bytes");
    const second = r.json.records.find((x) => x.offset === at + 1);
    expect_equal([second.key.format, second.value.value], ["null", "plain words"], "null key, text value");
    for (const [body, status, what] of [
      [{ partition: 5, value: 1 }, 400, "partition out of range"],
      [{ key: "x" }, 400, "no value"],
      [{ value: 1, format: "xml" }, 400, "unknown format"],
      [{ value: 5, format: "text" }, 400, "text must be a string"],
      [{ value: 1, headers: [{ value: "no key" }] }, 400, "header without key"],
      ["not json", 400, "not JSON"],
    ]) {
      r = await api(`${url}/api/topics/produced/messages`, "POST", body);
      expect_equal(r.status, status, `${what} (${r.text})`);
      expect((r.json?.error ?? r.text).length > 0, `${what}: a message`);
    }
    r = await api(`${url}/api/topics/nope/messages`, "POST", { value: 1 });
    expect_equal(r.status, 404, `unknown topic (${r.text})`);
    expect(r.json.error.includes("nope"), "names the topic");
    r = await api(`${url}/api/topics/produced`);
    expect_equal(r.json.records, 2, "nothing else was written");
  });

  await check("replay: a stored record's key, value and headers copied byte for byte to another topic", async () => {
    expect_equal((await api(`${url}/api/topics`, "POST", { name: "replayed", partitions: 1 })).status, 201, "create topic");
    const source = (await api(`${url}/api/topics/produced/messages?from=earliest&partition=1&limit=10`)).json.records[0];
    let r = await api(`${url}/api/topics/replayed/messages`, "POST", { replay: { topic: "produced", partition: 1, offset: source.offset } });
    expect_equal(r.status, 201, `replay (${r.text})`);
    const copy = (await api(`${url}/api/topics/replayed/messages?from=earliest`)).json.records;
    expect_equal(copy.length, 1, "one record");
    expect_equal([copy[0].key, copy[0].value, copy[0].headers], [source.key, source.value, source.headers], "same key, value and headers");
    r = await api(`${url}/api/topics/replayed/messages`, "POST", { replay: { topic: "produced", partition: 1, offset: 999 } });
    expect_equal(r.status, 404, `missing offset (${r.text})`);
    expect_equal((await api(`${url}/api/topics/replayed`)).json.records, 1, "nothing written for a missing record");
  });

  await check("topic configs: set and delete one through AlterConfigs, the others kept", async () => {
    let r = await api(`${url}/api/topics/produced/configs`, "POST", { set: { "retention.ms": "7200000" } });
    expect_equal(r.status, 200, `set (${r.text})`);
    const value = (json, name) => json.configs.find((c) => c.name === name);
    expect_equal(value(r.json, "retention.ms").value, "7200000", "retention.ms in the answer");
    r = await api(`${url}/api/topics/produced/configs`, "POST", { set: { "cleanup.policy": "compact" } });
    expect_equal(value(r.json, "cleanup.policy").value, "compact", "cleanup.policy");
    r = await api(`${url}/api/topics/produced`);
    expect_equal(value(r.json, "retention.ms").value, "7200000", "retention.ms kept when another config changed");
    r = await api(`${url}/api/topics/produced/configs`, "POST", { delete: ["retention.ms"] });
    expect_equal(r.status, 200, `delete (${r.text})`);
    expect_equal(value(r.json, "retention.ms").default, true, "retention.ms back to its default");
    expect_equal(value(r.json, "cleanup.policy").value, "compact", "cleanup.policy kept");
    r = await api(`${url}/api/topics/produced/configs`, "POST", { set: { "retention.ms": "soon" } });
    expect_equal(r.status, 400, `bad value refused by the broker (${r.text})`);
    r = await api(`${url}/api/topics/produced/configs`, "POST", { set: { "Bad Name": "1" } });
    expect_equal(r.status, 400, "bad name");
    r = await api(`${url}/api/topics/produced/configs`, "POST", {});
    expect_equal(r.status, 400, "nothing to change");
  });

  await check("schemas: compatibility verdict before saving, register, then produce Avro validated against it", async () => {
    const v1 = JSON.stringify({ type: "record", name: "order", fields: [{ name: "id", type: "long" }, { name: "item", type: "string" }] });
    let r = await api(`${url}/api/schemas/subjects/orders-value/check`, "POST", { schema: v1 });
    expect_equal([r.status, r.json.is_compatible, r.json.new_subject], [200, true, true], `new subject (${r.text})`);
    r = await api(`${url}/api/schemas/subjects/orders-value/versions`, "POST", { schema: v1 });
    expect_equal(r.status, 200, `register (${r.text})`);
    expect_equal(r.json.version, 1, "version 1");
    const id = r.json.id;
    const breaking = JSON.stringify({ type: "record", name: "order", fields: [{ name: "id", type: "long" }, { name: "qty", type: "int" }] });
    r = await api(`${url}/api/schemas/subjects/orders-value/check`, "POST", { schema: breaking });
    expect_equal([r.status, r.json.is_compatible], [200, false], `incompatible (${r.text})`);
    expect(r.json.messages.length > 0, "the reasons are given");
    r = await api(`${url}/api/schemas/subjects/orders-value/versions`, "POST", { schema: breaking });
    expect_equal(r.status, 409, `incompatible refused (${r.text})`);
    const evolved = JSON.stringify({ type: "record", name: "order",
      fields: [{ name: "id", type: "long" }, { name: "item", type: "string" }, { name: "qty", type: "int", default: 1 }] });
    r = await api(`${url}/api/schemas/subjects/orders-value/check`, "POST", { schema: evolved });
    expect_equal(r.json.is_compatible, true, `compatible evolution (${r.text})`);
    r = await api(`${url}/api/schemas/subjects/orders-value/check`, "POST", { schema: "{not a schema" });
    expect_equal(r.status, 422, `invalid schema (${r.text})`);
    expect_equal((await api(`${url}/api/topics`, "POST", { name: "orders", partitions: 1 })).status, 201, "create topic");
    r = await api(`${url}/api/topics/orders/messages`, "POST", { key: "o-1", value: { id: 1, item: "tea" }, format: "avro" });
    expect_equal(r.status, 201, `avro produce (${r.text})`);
    r = await api(`${url}/api/topics/orders/messages`, "POST", { value: { id: "one" }, format: "avro" });
    expect_equal(r.status, 400, `datum not matching the schema (${r.text})`);
    expect(r.json.error.includes("orders-value"), `names the subject: ${r.json.error}`);
    r = await api(`${url}/api/topics/orders/messages`, "POST", { value: { id: 1 }, format: "avro", subject: "none-value" });
    expect_equal(r.status, 404, `unknown subject (${r.text})`);
    const rows = (await api(`${url}/api/topics/orders/messages?from=earliest`)).json.records;
    expect_equal(rows.length, 1, "only the valid record was written");
    expect_equal([rows[0].value.format, rows[0].value.schema_id, rows[0].value.value], ["avro", id, { id: 1, item: "tea" }], "decoded back");
    // A subject with a '/', a space and a '?' travels as one path segment, to the registry too.
    const odd = "team/orders value?v";
    const odd_path = `${url}/api/schemas/subjects/${encodeURIComponent(odd)}`;
    r = await api(`${odd_path}/versions`, "POST", { schema: v1 });
    expect_equal(r.status, 200, `register under '${odd}' (${r.text})`);
    r = await api(`${odd_path}/versions/1`);
    expect_equal([r.status, r.json.subject, r.json.versions], [200, odd, [1]], `read back '${odd}' (${r.text})`);
    r = await api(`${url}/api/schemas`);
    const listed = r.json.subjects.find((row) => row.subject === odd);
    expect_equal(listed && listed.latest, 1, `'${odd}' listed with its latest version (${r.text})`);
    r = await api(`${url}/api/schemas/subjects/${encodeURIComponent(odd)}/nothing`);
    expect_equal(r.status, 404, "no such subject endpoint");
  });

  await check("CQL page: SELECT with paging, CSV export of every page, only reads", async () => {
    await cql_run(stack.cql.address, [
      "CREATE KEYSPACE IF NOT EXISTS shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
      "CREATE TABLE shop.events (id int PRIMARY KEY, note text, at timestamp)",
      ...Array.from({ length: 5 }, (_, idx) => `INSERT INTO shop.events (id, note, at) VALUES (${idx}, 'n,"${idx}"', 1700000000000)`),
    ]);
    let r = await api(`${url}/api/cql`, "POST", { query: "SELECT id, note, at FROM shop.events", page_size: 2 });
    expect_equal(r.status, 200, `page 1 (${r.text})`);
    expect_equal(r.json.columns.map((c) => c.name), ["id", "note", "at"], "columns");
    expect_equal(r.json.rows.length, 2, "page size");
    expect_equal(r.json.rows[0][2], "2023-11-14 22:13:20.000000+0000", "timestamps as cqlsh shows them");
    const seen = [...r.json.rows];
    while (r.json.paging_state) {
      r = await api(`${url}/api/cql`, "POST", { query: "SELECT id, note, at FROM shop.events", page_size: 2, paging_state: r.json.paging_state });
      expect_equal(r.status, 200, `next page (${r.text})`);
      seen.push(...r.json.rows);
    }
    expect_equal(seen.map((x) => x[0]).sort(), [0, 1, 2, 3, 4], "every row once across pages");
    const csv = await fetch(`${url}/api/cql`, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ query: "SELECT id, note FROM shop.events WHERE id = 3", format: "csv" }) });
    expect_equal(csv.status, 200, "csv status");
    expect(csv.headers.get("content-type").startsWith("text/csv"), "csv type");
    expect_equal(await csv.text(), 'id,note\r\n3,"n,""3"""\r\n', "csv quoting");
    r = await api(`${url}/api/cql`, "POST", { query: "  -- drop it\n DROP TABLE shop.events" });
    expect_equal(r.status, 400, `only SELECT (${r.text})`);
    r = await api(`${url}/api/cql`, "POST", { query: "SELECT * FROM shop.nope" });
    expect_equal(r.status, 400, `unknown table (${r.text})`);
    expect(r.json.error.includes("nope"), `names the table: ${r.json.error}`);
    r = await api(`${url}/api/tables`);
    const shop = r.json.keyspaces.find((k) => k.name === "shop");
    expect_equal(shop.rows.events, 5, `row count on the Tables page (${JSON.stringify(shop)})`);
  });

  await check("jobs: a running job with its SQL, plan and rates; a broken file in state error with file:line:column", async () => {
    const jobs_of = async () => {
      const r = await api(`${url}/api/jobs`);
      expect_equal(r.status, 200, `status (${r.text})`);
      return r.json;
    };
    let reply = await until("relay running and broken in error", async () => {
      const j = await jobs_of();
      const relay = j.jobs.find((x) => x.name === "relay");
      const broken = j.jobs.find((x) => x.name === "broken");
      if (relay?.state === "running" && relay.assigned_partitions > 0 && broken?.state === "error") return j;
      throw new Error(JSON.stringify(j.jobs.map((x) => [x.name, x.state, x.assigned_partitions, x.last_error])));
    });
    expect_equal(reply.unreachable, [], "every admin endpoint answered");
    expect_equal(reply.jobs.map((x) => x.name).sort(), ["broken", "relay"], "the jobs of the folder, nothing else");
    let relay = reply.jobs.find((x) => x.name === "relay");
    expect_equal(relay.admin, stack.processor.admin, "the admin endpoint the job came from");
    expect(relay.file.endsWith("relay.sql"), `file: ${relay.file}`);
    expect_equal(relay.group, "console-jobs-relay", "group from SET 'properties.group.id'");
    expect_equal(relay.sources, ["clicks"], "sources");
    expect_equal(relay.sinks, [`Kafka ${bootstrap} topic pages`], "sinks");
    expect_equal(relay.sql, test_jobs["relay.sql"], "the file's SQL, as written");
    expect(relay.plan.includes("read clicks (kafka topic 'clicks', format json)"), `plan reads clicks: ${relay.plan}`);
    expect(relay.plan.includes("page <- UPPER(page)"), `plan shows the projection: ${relay.plan}`);
    expect(relay.plan.includes("sink pages: kafka topic 'pages', format json"), `plan shows the sink: ${relay.plan}`);
    expect_equal(relay.last_error, "", "no error");
    const broken = reply.jobs.find((x) => x.name === "broken");
    expect(broken.last_error.includes(broken_job_error), `'${broken.last_error}' should contain '${broken_job_error}'`);
    expect(/\/broken\.sql:\d+:\d+: /.test(broken.last_error), `file:line:column: ${broken.last_error}`);
    expect_equal(broken.sql, test_jobs["broken.sql"], "the broken file's SQL is still shown");
    // Rates: produce while watching, until the last second's rates are positive.
    let batch = 0;
    relay = await until("positive records in and rows out per second", async () => {
      kcat_produce(bootstrap, "clicks", Array.from({ length: 20 }, (_, idx) => `c${batch}-${idx}|${JSON.stringify({ id: batch * 100 + idx, page: "home" })}`));
      batch++;
      const r = (await jobs_of()).jobs.find((x) => x.name === "relay");
      return r.records_in_per_second > 0 && r.rows_out_per_second > 0 ? r : null;
    });
    const produced = batch * 20;
    relay = await until(`all ${produced} records in and rows out`, async () => {
      const r = (await jobs_of()).jobs.find((x) => x.name === "relay");
      return r.records_in === produced && r.rows_out === produced ? r : null;
    });
    expect_equal(relay.rejected, 0, "no rejects");
    const out = await api(`${url}/api/topics/pages/messages?from=earliest&limit=1000`);
    expect_equal(out.json.records.length, produced, "rows on the sink topic");
    expect(out.json.records.every((x) => x.value.value.page === "HOME"), "the rows went through UPPER");
  });

  await check("registry and scheduler down: 503 with a message", async () => {
    const r = await api(`${url}/api/scheduler`);
    expect(r.status === 503, `scheduler status ${r.status}`);
    expect(r.json.error.length > 0, "a message");
  });
} finally {
  finish([stack.console.stderr, stack.broker.stderr]);
}
