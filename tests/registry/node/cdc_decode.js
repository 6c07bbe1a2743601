// Decodes Confluent-framed Avro that `millrace cdc --set cdc.format=avro` wrote,
// with @kafkajs/confluent-schema-registry (schemas fetched by id from REGISTRY_URL).
//   node cdc_decode.js FILE    FILE: {"messages": [{"hex": "00..."}]} (values of users_created)
// Prints `ok <n>` and exits 0, or names the first problem and exits 1.
const fs = require('fs');
const { SchemaRegistry } = require('@kafkajs/confluent-schema-registry');

(async () => {
  const registry = new SchemaRegistry({ host: process.env.REGISTRY_URL });
  const { messages } = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  let decoded = 0;
  for (const [index, item] of messages.entries()) {
    const value = await registry.decode(Buffer.from(item.hex, 'hex'));
    if (typeof value.id !== 'string' || !String(value.first_name).startsWith('First')) {
      console.error(`message ${index}: unexpected value ${JSON.stringify(value)}`);
      process.exit(1);
    }
    decoded++;
  }
  if (decoded === 0) {
    console.error('no messages to decode');
    process.exit(1);
  }
  console.log(`ok ${decoded}`);
})().catch((e) => {
  console.error('FAIL', e);
  process.exit(1);
});
