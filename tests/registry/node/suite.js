// @kafkajs/confluent-schema-registry against millrace registry (REGISTRY_URL).
//   --write FILE: run the suite, then write framed messages for Python to decode.
//   --decode FILE: decode what the Python client wrote.
'use strict';
const fs = require('fs');
const assert = require('assert');
const { SchemaRegistry, SchemaType } = require('@kafkajs/confluent-schema-registry');

const registry = new SchemaRegistry({ host: process.env.REGISTRY_URL });
let failures = 0;
function check(cond, what) {
  console.log((cond ? 'ok   ' : 'FAIL ') + what);
  if (!cond) failures++;
}

const userV1 = {
  type: 'record', name: 'NodeUser', namespace: 'millrace.test',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'name', type: 'string' },
    { name: 'score', type: 'double' },
    { name: 'active', type: 'boolean' },
    { name: 'nick', type: ['null', 'string'], default: null },
    { name: 'kind', type: { type: 'enum', name: 'Kind', symbols: ['A', 'B'] } },
    { name: 'attrs', type: { type: 'map', values: 'int' } },
  ],
};

async function suite(writePath) {
  const subject = 'node-users-value';
  const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(userV1) }, { subject });
  check(id > 0, `register returned id ${id}`);
  const again = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(userV1, null, 2) }, { subject });
  check(again.id === id, 'same schema again: same id');
  const schema = await registry.getSchema(id);
  check(schema !== undefined, 'getSchema by id');
  check((await registry.getLatestSchemaId(subject)) === id, 'getLatestSchemaId');
  check((await registry.getRegistryId(subject, 1)) === id, 'getRegistryId(subject, 1)');
  check((await registry.getRegistryIdBySchema(subject, { type: SchemaType.AVRO, schema: JSON.stringify(userV1) })) === id,
    'getRegistryIdBySchema (lookup)');

  const values = [
    { id: 1, name: 'ann', score: 1.5, active: true, nick: null, kind: 'A', attrs: { x: 1 } },
    { id: 2, name: 'bob', score: -2.25, active: false, nick: 'b', kind: 'B', attrs: {} },
  ];
  const encoded = [];
  for (const value of values) {
    const buffer = await registry.encode(id, value);
    check(buffer[0] === 0 && buffer.readInt32BE(1) === id, `encoded with magic 0 and id ${id}`);
    const decoded = await registry.decode(buffer);
    try {
      assert.deepStrictEqual(JSON.parse(JSON.stringify(decoded)), value);
      check(true, `decode(encode(${value.name}))`);
    } catch (e) {
      check(false, `decode(encode(${value.name})): ${e.message}`);
    }
    encoded.push({ hex: buffer.toString('hex'), value });
  }

  let rejected = null;
  try {
    await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify({ ...userV1, fields: [{ name: 'id', type: 'string' }] }) },
      { subject });
  } catch (e) {
    rejected = e;
  }
  check(rejected !== null && /409|incompatible/i.test(String(rejected.message || rejected)), `incompatible schema rejected: ${rejected}`);

  let missing = null;
  try {
    await registry.getSchema(987654);
  } catch (e) {
    missing = e;
  }
  check(missing !== null, `unknown id refused: ${missing}`);

  if (writePath) fs.writeFileSync(writePath, JSON.stringify({ schema_id: id, messages: encoded }));
}

async function decodeFile(path) {
  const data = JSON.parse(fs.readFileSync(path, 'utf8'));
  for (const item of data.messages) {
    const decoded = await registry.decode(Buffer.from(item.hex, 'hex'));
    const plain = JSON.parse(JSON.stringify(decoded));
    check(plain.name === item.value.name && plain.age === item.value.age && plain.email === item.value.email &&
      JSON.stringify(plain.tags) === JSON.stringify(item.value.tags), `decodes the Python client's message for ${item.value.name}`);
  }
  check(data.messages.length > 0, `${data.messages.length} messages from the Python client`);
}

(async () => {
  const args = process.argv.slice(2);
  try {
    if (args[0] === '--decode') await decodeFile(args[1]);
    else await suite(args[0] === '--write' ? args[1] : null);
  } catch (e) {
    console.error('FAIL unexpected error:', e);
    failures++;
  }
  if (failures) {
    console.error(`${failures} checks failed`);
    process.exit(1);
  }
})();
