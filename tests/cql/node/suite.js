'use strict';
// The DataStax Node.js cassandra-driver against millrace's CQL store: connect
// with the driver's default protocol negotiation, metadata, DDL, prepared
// inserts of every type with read-back equality, paging through 10k rows
// (autoPage and manual pageState), logged and unlogged batches, IF NOT EXISTS
// answers, error codes as the driver's error classes, schema-change events,
// and the password authenticator. Run by ../run.py --suite node, which starts
// the servers and passes CQL_HOST, CQL_PORT and CQL_AUTH_PORT (a server with
// cql.authenticator=password, user "pipeline", password "s3cret").
// Each check prints [PASS] or [FAIL] <name>: <reason>; the exit status is the
// number of failures.

const assert = require('assert');
const cassandra = require('cassandra-driver');

const { types, errors, auth } = cassandra;
const host = process.env.CQL_HOST || '127.0.0.1';
const port = Number(process.env.CQL_PORT || 9042);
const authPort = Number(process.env.CQL_AUTH_PORT || 0);
const ROWS = 10000;
const KS = 'node_suite';

// Seeded generator (mulberry32) so every run inserts the same data.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(301);
function randomBytes(n) {
  const b = Buffer.alloc(n);
  for (let idx = 0; idx < n; idx++) b[idx] = Math.floor(random() * 256);
  return b;
}
function seededUuid() {
  const b = randomBytes(16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return new types.Uuid(b);
}

function newClient(extra = {}) {
  return new cassandra.Client(Object.assign({
    contactPoints: [`${host}:${port}`],
    localDataCenter: 'datacenter1',
    socketOptions: { connectTimeout: 20000, readTimeout: 30000 },
    pooling: { coreConnectionsPerHost: { [types.distance.local]: 1 } },
  }, extra));
}

let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`[PASS] ${name}`);
  } catch (e) {
    failed++;
    console.log(`[FAIL] ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

// Waits (up to 30 s) until `cond()` is true; no fixed sleeps in the checks.
async function eventually(what, cond) {
  const deadline = Date.now() + 30000;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function expectError(promise, cls, code, pattern) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e && e.constructor && e.constructor.name}: ${e}`);
    if (code !== undefined) assert.strictEqual(e.code, code, `error code 0x${(e.code || 0).toString(16)}: ${e.message}`);
    if (pattern) assert.match(e.message, pattern);
    return e;
  }
  throw new Error(`expected ${cls.name}${code !== undefined ? ` 0x${code.toString(16)}` : ''}, the request succeeded`);
}

// A value as comparable text (driver value classes have toString/equals).
function norm(v) {
  if (v === null || v === undefined) return null;
  if (Buffer.isBuffer(v)) return `0x${v.toString('hex')}`;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(norm);
  if (v instanceof Map) return [...v.entries()].map(([k, x]) => [norm(k), norm(x)]);
  if (typeof v === 'object' && typeof v.toString === 'function' && v.toString !== Object.prototype.toString) return v.toString();
  if (typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) o[k] = norm(v[k]);
    return o;
  }
  return v;
}

async function main() {
  const client = newClient();
  await check('connect with default protocol negotiation settles on v4', async () => {
    await client.connect();
    const hosts = client.hosts.values();
    assert.strictEqual(hosts.length, 1);
    assert.strictEqual(client.controlConnection.protocolVersion, 4);
    assert.strictEqual(hosts[0].datacenter, 'datacenter1');
    const rs = await client.execute('SELECT release_version, cluster_name FROM system.local');
    assert.strictEqual(rs.first().cluster_name, 'millrace');
  });

  await check('CREATE KEYSPACE / TABLE, already-exists and IF NOT EXISTS', async () => {
    await client.execute(`DROP KEYSPACE IF EXISTS ${KS}`);
    await client.execute(`CREATE KEYSPACE ${KS} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}`);
    await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${KS} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}`);
    const e = await expectError(
      client.execute(`CREATE KEYSPACE ${KS} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}`),
      errors.ResponseError, types.responseErrorCodes.alreadyExists);
    assert.strictEqual(e.keyspace, KS);
    await client.execute(`CREATE TABLE ${KS}.users (id uuid PRIMARY KEY, first_name text, last_name text, email text, age int)`);
    await client.execute(`CREATE TABLE IF NOT EXISTS ${KS}.users (id uuid PRIMARY KEY, first_name text)`);
    const e2 = await expectError(client.execute(`CREATE TABLE ${KS}.users (id uuid PRIMARY KEY)`),
      errors.ResponseError, types.responseErrorCodes.alreadyExists);
    assert.strictEqual(e2.keyspace, KS);
    assert.strictEqual(e2.table, 'users');
    await client.execute(`CREATE TABLE ${KS}.events (day text, seq int, at timestamp, what text,
      PRIMARY KEY ((day), seq)) WITH CLUSTERING ORDER BY (seq DESC) AND comment = 'events'`);
    await client.execute(`CREATE TABLE ${KS}.kv (k text PRIMARY KEY, v text)`);
  });

  await check('driver metadata: keyspaces, tables, columns, keys', async () => {
    await client.metadata.refreshKeyspaces();
    const ks = client.metadata.keyspaces[KS];
    assert.ok(ks, `keyspace ${KS} in ${Object.keys(client.metadata.keyspaces)}`);
    assert.match(ks.strategy, /SimpleStrategy/);
    assert.strictEqual(String(ks.strategyOptions.replication_factor), '1');
    assert.ok(client.metadata.keyspaces.system_schema);
    const users = await client.metadata.getTable(KS, 'users');
    assert.deepStrictEqual(users.partitionKeys.map((c) => c.name), ['id']);
    assert.deepStrictEqual(users.columns.map((c) => c.name).sort(), ['age', 'email', 'first_name', 'id', 'last_name']);
    assert.strictEqual(users.columnsByName.age.type.code, types.dataTypes.int);
    assert.strictEqual(users.columnsByName.id.type.code, types.dataTypes.uuid);
    const events = await client.metadata.getTable(KS, 'events');
    assert.deepStrictEqual(events.partitionKeys.map((c) => c.name), ['day']);
    assert.deepStrictEqual(events.clusteringKeys.map((c) => c.name), ['seq']);
    assert.deepStrictEqual(events.clusteringOrder, ['DESC']);
    assert.strictEqual(events.comment, 'events');
    const missing = await client.metadata.getTable(KS, 'no_such_table');
    assert.strictEqual(missing, null);
  });

  await check('prepared inserts of every type read back equal', async () => {
    await client.execute(`CREATE TABLE ${KS}.all_types (
      id uuid PRIMARY KEY, tu timeuuid, t text, vc varchar, a ascii, b boolean, ti tinyint, si smallint, i int,
      bi bigint, vi varint, f float, d double, dec decimal, ts timestamp, dt date, tm time, bl blob, ip inet,
      l list<int>, s set<text>, m map<text, int>, fl frozen<list<text>>, fs frozen<set<uuid>>,
      fm frozen<map<int, text>>, ll list<frozen<list<int>>>)`);
    const cols = ['id', 'tu', 't', 'vc', 'a', 'b', 'ti', 'si', 'i', 'bi', 'vi', 'f', 'd', 'dec', 'ts', 'dt', 'tm', 'bl', 'ip',
      'l', 's', 'm', 'fl', 'fs', 'fm', 'll'];
    const insert = `INSERT INTO ${KS}.all_types (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`;
    const rows = [];
    for (let idx = 0; idx < 20; idx++) {
      const neg = idx % 2 ? -1 : 1;
      rows.push([
        seededUuid(), types.TimeUuid.fromDate(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, idx)), idx,
          Buffer.from('00112233aabb', 'hex'), Buffer.from('ab12', 'hex')),
        `text ${idx} é ✓`, `varchar ${idx}`, `ascii ${idx}`, idx % 3 === 0, neg * idx, neg * idx * 1000, neg * idx * 100000,
        types.Long.fromString(`${neg * idx}123456789012`), types.Integer.fromString(`${neg * idx}98765432109876543210`),
        neg * (idx + 0.5), neg * idx * 1.25e100, types.BigDecimal.fromString(`${neg * idx}.0123456789`),
        new Date(Date.UTC(2000 + idx, 1, 3, 4, 5, 6, 7)), new types.LocalDate(1970 + idx * 3, 2, 28),
        types.LocalTime.fromString(`12:34:56.${String(idx).padStart(9, '0')}`), randomBytes(idx * 3),
        types.InetAddress.fromString(idx % 2 ? `10.0.0.${idx}` : `2001:db8::${idx}`), [idx, idx + 1, idx > 0 ? -idx : 7],
        [`a${idx}`, `b${idx}`], { [`k${idx}`]: idx, z: -1 }, [`x${idx}`, `y${idx}`], [seededUuid(), seededUuid()],
        { [idx]: `v${idx}`, 1000: 'thousand' }, [[idx], [idx, idx]],
      ]);
    }
    for (const r of rows) await client.execute(insert, r, { prepare: true });
    const select = await client.execute(`SELECT ${cols.join(', ')} FROM ${KS}.all_types WHERE id = ?`, [rows[7][0]],
      { prepare: true });
    const row = select.first();
    assert.ok(row);
    for (const r of rows) {
      const got = (await client.execute(`SELECT ${cols.join(', ')} FROM ${KS}.all_types WHERE id = ?`, [r[0]],
        { prepare: true })).first();
      cols.forEach((c, idx) => {
        let want = r[idx];
        let have = got[c];
        if (c === 's' || c === 'fs') {
          want = [...want].map(norm).sort();
          have = [...have].map(norm).sort();
        } else if (c === 'm' || c === 'fm') {
          want = Object.keys(want).sort().map((k) => [k, want[k]]);
          have = Object.keys(have).sort().map((k) => [k, have[k]]);
        }
        assert.deepStrictEqual(norm(have), norm(want), `column ${c}`);
      });
    }
    // Nulls and unset values.
    const id = seededUuid();
    await client.execute(`INSERT INTO ${KS}.all_types (id, t, i) VALUES (?, ?, ?)`, [id, null, types.unset], { prepare: true });
    const nulls = (await client.execute(`SELECT t, i, l FROM ${KS}.all_types WHERE id = ?`, [id], { prepare: true })).first();
    assert.strictEqual(nulls.t, null);
    assert.strictEqual(nulls.i, null);
    assert.strictEqual(nulls.l, null);
    // Unset leaves a column as it is, in INSERT (after a literal) and UPDATE; null deletes it.
    await client.execute(`INSERT INTO ${KS}.all_types (id, t, i) VALUES (?, 'kept', 7)`, [id], { prepare: true });
    await client.execute(`INSERT INTO ${KS}.all_types (id, t, i) VALUES (?, 'kept', ?)`, [id, types.unset], { prepare: true });
    await client.execute(`UPDATE ${KS}.all_types SET t = ?, i = ? WHERE id = ?`, [types.unset, null, id], { prepare: true });
    const kept = (await client.execute(`SELECT t, i FROM ${KS}.all_types WHERE id = ?`, [id], { prepare: true })).first();
    assert.strictEqual(kept.t, 'kept');
    assert.strictEqual(kept.i, null);
  });

  await check('static columns, INSERT JSON, an index and a conditional batch (driver metadata and helpers)', async () => {
    await client.execute(`CREATE TABLE ${KS}.orders (customer int, id int, name text static, total int, PRIMARY KEY (customer, id))`);
    await client.execute(`INSERT INTO ${KS}.orders (customer, name) VALUES (?, ?)`, [1, 'ann'], { prepare: true });
    let rs = await client.execute(`SELECT * FROM ${KS}.orders WHERE customer = 1`);
    assert.deepStrictEqual(rs.rows.map((r) => [r.customer, r.id, r.name, r.total]), [[1, null, 'ann', null]]);
    await client.execute(`INSERT INTO ${KS}.orders JSON ?`, ['{"customer": 1, "id": 2, "total": "30"}'], { prepare: true });
    await client.execute(`INSERT INTO ${KS}.orders JSON ? DEFAULT UNSET`, ['{"customer": 1, "id": 3, "total": 40}'], { prepare: true });
    rs = await client.execute(`SELECT customer, id, name, total FROM ${KS}.orders WHERE customer = 1`);
    // DEFAULT NULL (the default) nulled the static name; the second insert left it as it was.
    assert.deepStrictEqual(rs.rows.map((r) => [r.id, r.name, r.total]), [[2, null, 30], [3, null, 40]]);
    await client.execute(`UPDATE ${KS}.orders SET name = 'bob' WHERE customer = 1`);
    rs = await client.execute(`SELECT DISTINCT customer, name FROM ${KS}.orders`);
    assert.deepStrictEqual(rs.rows.map((r) => [r.customer, r.name]), [[1, 'bob']]);
    await client.execute(`CREATE INDEX orders_total ON ${KS}.orders (total)`);
    rs = await client.execute(`SELECT id FROM ${KS}.orders WHERE total = ?`, [40], { prepare: true });
    assert.deepStrictEqual(rs.rows.map((r) => r.id), [3]);
    await client.metadata.refreshKeyspaces();
    const table = await client.metadata.getTable(KS, 'orders');
    assert.ok(table.columnsByName.name.isStatic, 'name is static in the driver metadata');
    assert.deepStrictEqual(table.indexes.map((i) => [i.name, i.target]), [['orders_total', 'total']]);
    const insert = `INSERT INTO ${KS}.orders (customer, id, total) VALUES (?, ?, ?) IF NOT EXISTS`;
    const refused = await client.batch([{ query: insert, params: [1, 3, 1] }, { query: insert, params: [1, 4, 1] }], { prepare: true });
    assert.strictEqual(refused.wasApplied(), false);
    assert.deepStrictEqual(refused.rows.map((r) => [r.id, r.total]), [[3, 40]]);
    const applied = await client.batch([{ query: insert, params: [1, 5, 1] }, { query: insert, params: [1, 6, 1] }], { prepare: true });
    assert.strictEqual(applied.wasApplied(), true);
  });

  await check('tuples and user-defined types: prepared binds, result metadata (0x31, 0x30), field updates, driver metadata', async () => {
    await client.execute(`CREATE TYPE ${KS}.address (street text, num int)`);
    await client.execute(`CREATE TABLE ${KS}.people (id int, at frozen<tuple<int, text>>, home frozen<address>, work address, `
      + `pair tuple<text, frozen<list<int>>>, past list<frozen<address>>, PRIMARY KEY (id, at))`);
    const insert = `INSERT INTO ${KS}.people (id, at, home, work, pair, past) VALUES (?, ?, ?, ?, ?, ?)`;
    await client.execute(insert, [1, new types.Tuple(2, 'b'), { street: 'main', num: 7 }, { street: 'dock' },
      new types.Tuple('x', [1, 2]), [{ street: 'old', num: 1 }]], { prepare: true });
    await client.execute(insert, [1, new types.Tuple(1, null), null, null, null, null], { prepare: true });
    // A literal, and a field of the non-frozen udt set by itself (the other field kept).
    await client.execute(`INSERT INTO ${KS}.people (id, at, home) VALUES (1, (3, 'c'), {street: 'lit', num: 3})`);
    await client.execute(`UPDATE ${KS}.people SET work.num = ? WHERE id = 1 AND at = ?`, [9, new types.Tuple(2, 'b')], { prepare: true });
    const rs = await client.execute(`SELECT at, home, work, pair, past, home.street FROM ${KS}.people WHERE id = 1`, [], { prepare: true });
    assert.strictEqual(rs.columns[0].type.code, types.dataTypes.tuple);
    assert.strictEqual(rs.columns[1].type.code, types.dataTypes.udt);
    assert.deepStrictEqual(rs.columns[1].type.info.fields.map((f) => f.name), ['street', 'num']);
    assert.deepStrictEqual(rs.rows.map((r) => r.at.values()), [[1, null], [2, 'b'], [3, 'c']]);
    assert.deepStrictEqual(rs.rows.map((r) => r.home), [null, { street: 'main', num: 7 }, { street: 'lit', num: 3 }]);
    assert.deepStrictEqual(rs.rows[1].work, { street: 'dock', num: 9 });
    assert.deepStrictEqual(rs.rows[1].pair.values(), ['x', [1, 2]]);
    assert.deepStrictEqual(rs.rows[1].past, [{ street: 'old', num: 1 }]);
    assert.deepStrictEqual(rs.rows.map((r) => r['home.street']), [null, 'main', 'lit']);
    const sliced = await client.execute(`SELECT id FROM ${KS}.people WHERE id = 1 AND at > ?`, [new types.Tuple(1, 'z')], { prepare: true });
    assert.strictEqual(sliced.rowLength, 2);
    await client.metadata.refreshKeyspaces();
    const udt = await client.metadata.getUdt(KS, 'address');
    assert.deepStrictEqual(udt.fields.map((f) => f.name), ['street', 'num']);
    await expectError(client.execute(`DROP TYPE ${KS}.address`), errors.ResponseError, types.responseErrorCodes.invalid,
      /Cannot drop user type '.*address' as it is still used by tables people/);
  });

  await check('varint and decimal clustering keys in numeric order', async () => {
    await client.execute(`CREATE TABLE ${KS}.numbers (p int, v varint, d decimal, PRIMARY KEY (p, v, d))`);
    const values = ['-100000000000000000000', '-256', '-255', '-1', '0', '1', '127', '128', '255', '256', '65536',
      '99999999999999999999'];
    const decimals = ['-12.5', '-1.05', '-1', '0', '0.001', '0.5', '1', '1.5', '10', '100.25', '10000000000.5'];
    const shuffled = [...values].sort(() => random() - 0.5);
    for (const v of shuffled) {
      for (const d of [...decimals].sort(() => random() - 0.5)) {
        await client.execute(`INSERT INTO ${KS}.numbers (p, v, d) VALUES (1, ?, ?)`,
          [types.Integer.fromString(v), types.BigDecimal.fromString(d)], { prepare: true });
      }
    }
    const rs = await client.execute(`SELECT v, d FROM ${KS}.numbers WHERE p = 1`, [], { fetchSize: 1000 });
    assert.deepStrictEqual([...new Set(rs.rows.map((r) => r.v.toString()))], values);
    const firstDecimals = rs.rows.filter((r) => r.v.toString() === '0').map((r) => Number(r.d.toString()));
    assert.deepStrictEqual(firstDecimals, [...firstDecimals].sort((x, y) => x - y));
    assert.strictEqual(firstDecimals.length, decimals.length);
    const ranged = await client.execute(`SELECT v FROM ${KS}.numbers WHERE p = 1 AND v > ? AND v <= ?`,
      [types.Integer.fromString('-2'), types.Integer.fromString('255')], { prepare: true });
    assert.deepStrictEqual([...new Set(ranged.rows.map((r) => r.v.toString()))], ['-1', '0', '1', '127', '128', '255']);
  });

  const ids = [];
  await check(`prepared inserts of ${ROWS} rows (concurrent)`, async () => {
    const insert = `INSERT INTO ${KS}.users (id, first_name, last_name, email, age) VALUES (?, ?, ?, ?, ?)`;
    for (let idx = 0; idx < ROWS; idx++) ids.push(seededUuid());
    let next = 0;
    const worker = async () => {
      while (next < ROWS) {
        const idx = next++;
        await client.execute(insert, [ids[idx], `first${idx}`, `O'last${idx}`, `user${idx}@example.com`, idx % 90],
          { prepare: true });
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    const count = (await client.execute(`SELECT count(*) FROM ${KS}.users`)).first().count;
    assert.strictEqual(count.toString(), String(ROWS));
  });

  await check('paging through 10k rows with autoPage (eachRow and stream)', async () => {
    const seen = new Set();
    let pages = 0;
    await new Promise((resolve, reject) => {
      client.eachRow(`SELECT id, first_name FROM ${KS}.users`, [], { prepare: true, autoPage: true, fetchSize: 700 },
        (n, row) => { seen.add(row.id.toString()); },
        (err, result) => { pages++; if (err) reject(err); else resolve(result); });
    });
    assert.strictEqual(seen.size, ROWS);
    for (const id of ids) assert.ok(seen.has(id.toString()), `row ${id} missing`);
    let streamed = 0;
    await new Promise((resolve, reject) => {
      client.stream(`SELECT id FROM ${KS}.users`, [], { prepare: true, fetchSize: 999 })
        .on('readable', function onReadable() { while (this.read()) streamed++; })
        .on('end', resolve).on('error', reject);
    });
    assert.strictEqual(streamed, ROWS);
  });

  await check('paging through 10k rows with manual pageState', async () => {
    const seen = new Set();
    let pageState;
    let pages = 0;
    do {
      const rs = await client.execute(`SELECT id FROM ${KS}.users`, [], { prepare: true, fetchSize: 1234, pageState });
      assert.ok(rs.rows.length <= 1234);
      for (const r of rs.rows) seen.add(r.id.toString());
      pageState = rs.pageState;
      pages++;
      assert.ok(pages < 100, 'too many pages');
    } while (pageState);
    assert.strictEqual(seen.size, ROWS);
    assert.ok(pages >= Math.ceil(ROWS / 1234), `pages ${pages}`);
    // Simple (unprepared) statements page too.
    const first = await client.execute(`SELECT id FROM ${KS}.users`, [], { fetchSize: 10 });
    assert.strictEqual(first.rows.length, 10);
    assert.ok(first.pageState);
    const second = await client.execute(`SELECT id FROM ${KS}.users`, [], { fetchSize: 10, pageState: first.pageState });
    assert.strictEqual(second.rows.length, 10);
    assert.notStrictEqual(second.rows[0].id.toString(), first.rows[0].id.toString());
  });

  await check('logged and unlogged batches', async () => {
    const q = `INSERT INTO ${KS}.kv (k, v) VALUES (?, ?)`;
    await client.batch([{ query: q, params: ['b1', 'one'] }, { query: q, params: ['b2', 'two'] },
      { query: `UPDATE ${KS}.kv SET v = ? WHERE k = ?`, params: ['three', 'b3'] }], { prepare: true });
    await client.batch([{ query: q, params: ['u1', 'x'] }, { query: q, params: ['u2', 'y'] },
      { query: `DELETE FROM ${KS}.kv WHERE k = ?`, params: ['u1'] }], { prepare: true, logged: false });
    await client.batch([`INSERT INTO ${KS}.kv (k, v) VALUES ('s1', 'simple')`,
      `INSERT INTO ${KS}.kv (k, v) VALUES ('s2', 'simple')`], { logged: true });
    const rs = await client.execute(`SELECT k, v FROM ${KS}.kv WHERE k IN ?`, [['b1', 'b2', 'b3', 'u1', 'u2', 's1', 's2']],
      { prepare: true });
    const got = Object.fromEntries(rs.rows.map((r) => [r.k, r.v]));
    assert.deepStrictEqual(got, { b1: 'one', b2: 'two', b3: 'three', u2: 'y', s1: 'simple', s2: 'simple' });
    await expectError(client.batch([{ query: q, params: ['c1', 'x'] },
      { query: `INSERT INTO ${KS}.kv (k, v) VALUES (?, ?) IF NOT EXISTS`, params: ['c2', 'y'] }], { prepare: true }),
    errors.ResponseError, types.responseErrorCodes.invalid);
  });

  await check('IF NOT EXISTS / IF EXISTS answer [applied]', async () => {
    const q = `INSERT INTO ${KS}.kv (k, v) VALUES (?, ?) IF NOT EXISTS`;
    const first = await client.execute(q, ['lwt', 'first'], { prepare: true });
    assert.strictEqual(first.wasApplied(), true);
    assert.strictEqual(first.first()['[applied]'], true);
    const second = await client.execute(q, ['lwt', 'second'], { prepare: true });
    assert.strictEqual(second.wasApplied(), false);
    const simple = await client.execute(`INSERT INTO ${KS}.kv (k, v) VALUES ('lwt', 'third') IF NOT EXISTS`);
    assert.strictEqual(simple.wasApplied(), false);
    const v = (await client.execute(`SELECT v FROM ${KS}.kv WHERE k = 'lwt'`)).first().v;
    assert.strictEqual(v, 'first');
    const upd = await client.execute(`UPDATE ${KS}.kv SET v = 'x' WHERE k = 'nope' IF EXISTS`);
    assert.strictEqual(upd.wasApplied(), false);
    const upd2 = await client.execute(`UPDATE ${KS}.kv SET v = 'updated' WHERE k = ? IF EXISTS`, ['lwt'], { prepare: true });
    assert.strictEqual(upd2.wasApplied(), true);
  });

  await check('collection updates: set +/-, list append/prepend, map put', async () => {
    await client.execute(`CREATE TABLE ${KS}.coll (k int PRIMARY KEY, s set<text>, l list<int>, m map<text, int>)`);
    await client.execute(`INSERT INTO ${KS}.coll (k, s, l, m) VALUES (1, {'a', 'b'}, [2, 3], {'x': 1})`);
    await client.execute(`UPDATE ${KS}.coll SET s = s + {'c'}, l = l + [4], m = m + {'y': 2} WHERE k = 1`);
    await client.execute(`UPDATE ${KS}.coll SET s = s - {'a'}, l = [1] + l, m['z'] = 3 WHERE k = 1`);
    await client.execute(`UPDATE ${KS}.coll SET s = s + ?, l = l - ?, m = m - ? WHERE k = ?`,
      [['d'], [3], ['x'], 1], { prepare: true });
    const r = (await client.execute(`SELECT s, l, m FROM ${KS}.coll WHERE k = 1`)).first();
    assert.deepStrictEqual(r.s, ['b', 'c', 'd']);
    assert.deepStrictEqual(r.l, [1, 2, 4]);
    assert.deepStrictEqual(r.m, { y: 2, z: 3 });
    // Updating a missing row creates the collection.
    await client.execute(`UPDATE ${KS}.coll SET s = s + {'only'} WHERE k = 2`);
    assert.deepStrictEqual((await client.execute(`SELECT s FROM ${KS}.coll WHERE k = 2`)).first().s, ['only']);
  });

  await check('error codes: syntax error, invalid, unconfigured table', async () => {
    await expectError(client.execute('SELEKT * FROM x'), errors.ResponseError, types.responseErrorCodes.syntaxError);
    await expectError(client.execute(`SELECT * FROM ${KS}.nope`), errors.ResponseError, types.responseErrorCodes.invalid,
      /unconfigured table nope/);
    await expectError(client.execute(`SELECT * FROM ${KS}.users WHERE id = ?`, ['not-a-uuid'], { prepare: true }),
      TypeError);
    await expectError(client.execute(`SELECT nope FROM ${KS}.users`), errors.ResponseError,
      types.responseErrorCodes.invalid, /nope/);
    await expectError(client.execute(`INSERT INTO ${KS}.users (first_name) VALUES ('x')`), errors.ResponseError,
      types.responseErrorCodes.invalid, /id/);
    await expectError(client.execute(`USE no_such_keyspace`), errors.ResponseError, types.responseErrorCodes.invalid);
    await expectError(client.execute('DROP TABLE node_suite.never_was'), errors.ResponseError,
      types.responseErrorCodes.invalid);
    // The connection keeps serving after errors.
    assert.strictEqual((await client.execute('SELECT key FROM system.local')).first().key, 'local');
  });

  await check('clustering order, ranges, ORDER BY, LIMIT', async () => {
    const q = `INSERT INTO ${KS}.events (day, seq, at, what) VALUES (?, ?, ?, ?)`;
    for (let seq = 0; seq < 50; seq++) {
      await client.execute(q, ['d1', seq, new Date(Date.UTC(2024, 0, 1) + seq * 1000), `e${seq}`], { prepare: true });
    }
    const desc = await client.execute(`SELECT seq FROM ${KS}.events WHERE day = 'd1' LIMIT 5`);
    assert.deepStrictEqual(desc.rows.map((r) => r.seq), [49, 48, 47, 46, 45]);
    const asc = await client.execute(`SELECT seq FROM ${KS}.events WHERE day = ? AND seq >= ? AND seq < ? ORDER BY seq ASC`,
      ['d1', 10, 13], { prepare: true });
    assert.deepStrictEqual(asc.rows.map((r) => r.seq), [10, 11, 12]);
  });

  await check('SCHEMA_CHANGE events refresh another client\'s metadata', async () => {
    const watcher = newClient({ isMetadataSyncEnabled: true, refreshSchemaDelay: 10 });
    await watcher.connect();
    try {
      assert.ok(!watcher.metadata.keyspaces.node_events);
      await client.execute(`CREATE KEYSPACE node_events WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
      await eventually('keyspace created event', () => Boolean(watcher.metadata.keyspaces.node_events));
      await client.execute(`ALTER TABLE ${KS}.kv ADD extra int`);
      await eventually('table updated event', async () => {
        const t = await watcher.metadata.getTable(KS, 'kv');
        return t && t.columnsByName.extra !== undefined;
      });
      await client.execute('DROP KEYSPACE node_events');
      await eventually('keyspace dropped event', () => !watcher.metadata.keyspaces.node_events);
    } finally {
      await watcher.shutdown();
    }
  });

  await check('password authenticator: right and wrong credentials', async () => {
    assert.ok(authPort, 'CQL_AUTH_PORT not set');
    const ok = newClient({ contactPoints: [`${host}:${authPort}`],
      authProvider: new auth.PlainTextAuthProvider('pipeline', 's3cret') });
    await ok.connect();
    assert.strictEqual((await ok.execute('SELECT key FROM system.local')).first().key, 'local');
    await ok.shutdown();
    const bad = newClient({ contactPoints: [`${host}:${authPort}`],
      authProvider: new auth.PlainTextAuthProvider('pipeline', 'wrong') });
    const e = await expectError(bad.connect(), errors.NoHostAvailableError);
    const inner = Object.values(e.innerErrors);
    assert.ok(inner.length === 1 && inner[0] instanceof errors.AuthenticationError, `inner errors: ${inner}`);
    assert.match(inner[0].message, /Provided username pipeline and\/or password are incorrect/);
    await bad.shutdown();
    const none = newClient({ contactPoints: [`${host}:${authPort}`] });
    const e2 = await expectError(none.connect(), errors.NoHostAvailableError);
    assert.match(String(Object.values(e2.innerErrors)[0]), /authenticat/i);
    await none.shutdown();
  });

  await client.shutdown();
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.log(`[FAIL] suite: ${e && e.stack ? e.stack : e}`);
  process.exitCode = 1;
});
