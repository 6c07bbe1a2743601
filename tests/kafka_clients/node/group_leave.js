'use strict'
// KafkaJS scenario of issue 17: a two-member group on a 4-partition topic
// reads 4,000 records; then member 1 disconnects, then member 2, then the
// admin fetches the committed offsets and disconnects. The process must then
// exit by itself (against Apache Kafka 4.1.1 it does in ~7 s). Reads
// KAFKA_BOOTSTRAP; prints [PASS]/[FAIL] lines and the group's event sequence.

const { Kafka, logLevel } = require('kafkajs')

const BOOTSTRAP = process.env.KAFKA_BOOTSTRAP
const SEED = Number(process.env.MILLRACE_TEST_SEED || 20260101) >>> 0
const PARTITIONS = 4
const RECORDS = 4000

let failed = 0
function pass(name) { console.log(`[PASS] ${name}`) }
function fail(name, why) { failed++; console.log(`[FAIL] ${name}: ${why}`) }
function check(name, ok, why) { if (ok) pass(name); else fail(name, why) }
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
async function waitFor(what, timeoutMs, cond) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await cond()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}

const events = []
function event(text) {
  events.push(text)
  console.log(`(event) ${text}`)
}

const consumers = []
let admin = null

async function main() {
  const suffix = `${SEED}-${process.pid}`
  const topic = `kafkajs-leave-${suffix}`
  const groupId = `kafkajs-leave-group-${suffix}`
  const levels = { error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.INFO, debug: logLevel.DEBUG }
  const kafka = new Kafka({
    clientId: 'millrace-kafkajs-leave',
    brokers: [BOOTSTRAP],
    logLevel: levels[process.env.KAFKAJS_LOG] ?? logLevel.NOTHING,
    retry: { retries: 5 },
  })
  admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true })

  const producer = kafka.producer()
  await producer.connect()
  for (let chunk = 0; chunk < RECORDS; chunk += 500) {
    const messages = []
    for (let i = chunk; i < chunk + 500; i++) messages.push({ key: `key-${i}`, value: `value-${i}` })
    await producer.send({ topic, messages })
  }
  await producer.disconnect()
  pass(`produced ${RECORDS} records to ${PARTITIONS} partitions`)

  const seen = new Set()
  for (const name of ['member-1', 'member-2']) {
    const consumer = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 500 })
    consumer.on(consumer.events.GROUP_JOIN, e => {
      const parts = Object.values(e.payload.memberAssignment || {}).reduce((n, p) => n + p.length, 0)
      event(`${name} joined generation with ${parts} partitions`)
    })
    consumer.on(consumer.events.STOP, () => event(`${name} stopped`))
    consumer.on(consumer.events.DISCONNECT, () => event(`${name} disconnected`))
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      eachMessage: async ({ partition, message }) => { seen.add(`${partition}:${message.offset}`) },
    })
    consumers.push(consumer)
  }
  await waitFor(`all ${RECORDS} records`, 60000, () => seen.size >= RECORDS)
  pass(`the group read all ${RECORDS} records`)

  const started = Date.now()
  await consumers[0].disconnect()
  event('member-1 disconnect() returned')
  await consumers[1].disconnect()
  event('member-2 disconnect() returned')
  // What was committed depends on when the rebalances cut the commits; the
  // scenario only needs the call to work once both members are gone.
  const offsets = await admin.fetchOffsets({ groupId, topics: [topic] })
  check('admin fetchOffsets after both members left answers every partition', offsets[0].partitions.length === PARTITIONS,
    JSON.stringify(offsets))
  const desc = await admin.describeGroups([groupId])
  check('the group is Empty once both members left', desc.groups[0].state === 'Empty', `state=${desc.groups[0].state}`)
  await admin.disconnect()
  // The bug: after the first member left, the group kept rebalancing and the
  // other member kept rejoining. One rejoin (to take over all partitions) is right.
  const joinsAfterLeave = events.slice(events.indexOf('member-1 disconnect() returned')).filter(e => e.includes('joined'))
  check('after member-1 left, member-2 joined at most once more', joinsAfterLeave.length <= 1, JSON.stringify(joinsAfterLeave))
  const fromFirstLeave = events.slice(events.indexOf('member-1 disconnect() returned'))
  check('after member-1 left: member-2 stopped and disconnected exactly once',
    fromFirstLeave.filter(e => e === 'member-2 stopped').length === 1 &&
      fromFirstLeave.filter(e => e === 'member-2 disconnected').length === 1,
    JSON.stringify(fromFirstLeave))
  check('both disconnects finished within 30 s', Date.now() - started < 30000, `${Date.now() - started} ms`)
  console.log(`(events) ${JSON.stringify(events)}`)
  // No process.exit: the check is that nothing (a timer, a socket, a rejoin loop) keeps node alive.
}

main().then(
  () => { if (failed) process.exitCode = 1 },
  async e => {
    fail('scenario', e && e.stack ? e.stack : String(e))
    process.exitCode = 1
    // Let a failed run end too: a hang must mean the broker kept a client busy.
    for (const c of consumers) await c.disconnect().catch(() => {})
    if (admin) await admin.disconnect().catch(() => {})
  })
