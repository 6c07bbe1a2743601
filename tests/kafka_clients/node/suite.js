'use strict'
// KafkaJS suite: admin API, keyed producer with headers per compression codec,
// and a two-member consumer group that has to rebalance. Reads KAFKA_BOOTSTRAP.
// Prints one "[PASS] name" / "[FAIL] name: why" / "[SKIP] name: why" line per
// check; exits non-zero when any check failed.

const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs')

const BOOTSTRAP = process.env.KAFKA_BOOTSTRAP
const SEED = Number(process.env.MILLRACE_TEST_SEED || 20260101) >>> 0
const PARTITIONS = 3
const PER_CODEC = Number(process.env.KAFKAJS_RECORDS_PER_CODEC || 1000)
const SEND_CHUNK = 250

// ---------------------------------------------------------------- reporting
let passed = 0
let failed = 0
let skipped = 0
function pass(name) { passed++; console.log(`[PASS] ${name}`) }
function fail(name, why) { failed++; console.log(`[FAIL] ${name}: ${why}`) }
function skip(name, why) { skipped++; console.log(`[SKIP] ${name}: ${why}`) }
function check(name, ok, why) { if (ok) pass(name); else fail(name, why) }
function checkEq(name, actual, expected) {
  const a = JSON.stringify(actual)
  const e = JSON.stringify(expected)
  check(name, a === e, `expected ${e}, got ${a}`)
}

// ---------------------------------------------------------------- seeded rng
function makeRng(seed) {
  let s = seed >>> 0
  return () => {
    // xorshift32
    s ^= s << 13; s >>>= 0
    s ^= s >>> 17
    s ^= s << 5; s >>>= 0
    return s / 4294967296
  }
}
const rng = makeRng(SEED || 1)
const randInt = n => Math.floor(rng() * n)
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.:;!?äöü€漢字'
function randText(len) {
  let out = ''
  for (let i = 0; i < len; i++) out += ALPHABET[randInt(ALPHABET.length)]
  return out
}
function randBytes(len) {
  const b = Buffer.alloc(len)
  for (let i = 0; i < len; i++) b[i] = randInt(256)
  return b
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

// Runs a step whose failure should not stop the suite: an exception fails it and the suite goes on.
async function soft(name, fn) {
  try {
    await fn()
  } catch (e) {
    fail(name, e && e.stack ? e.stack : String(e))
  }
}

// Retries an admin call while the broker answers with a retriable error (a fresh
// Kafka answers COORDINATOR_LOAD_IN_PROGRESS for a moment while it creates and
// loads __consumer_offsets; KafkaJS's admin does not retry that itself).
async function retrying(what, fn, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await fn()
    } catch (e) {
      if (!e.retriable || Date.now() > deadline) throw e
      console.error(`(retrying ${what}: ${e.type || e.message})`)
      await sleep(100)
    }
  }
}
async function waitFor(what, timeoutMs, cond) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await cond()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(50)
  }
}

// ---------------------------------------------------------------- codecs
function setUpCodecs() {
  const codecs = [
    { name: 'none', type: CompressionTypes.None },
    { name: 'gzip', type: CompressionTypes.GZIP },
  ]
  try {
    CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy')
    codecs.push({ name: 'snappy', type: CompressionTypes.Snappy })
  } catch (e) {
    skip('codec snappy', `kafkajs-snappy not loadable: ${e.message}`)
  }
  try {
    CompressionCodecs[CompressionTypes.LZ4] = require('./lz4_codec')
    codecs.push({ name: 'lz4', type: CompressionTypes.LZ4 })
  } catch (e) {
    skip('codec lz4', `lz4js not loadable: ${e.message}`)
  }
  skip('codec zstd', 'no pure-JS zstd codec for KafkaJS on Node 20 (the @kafkajs/zstd package needs a native build)')
  return codecs
}

// ---------------------------------------------------------------- records
// Every record is identified by its seq header; the expectation is kept per seq.
function makeRecords(codecName, firstSeq, count, baseTs) {
  const out = []
  for (let i = 0; i < count; i++) {
    const seq = firstSeq + i
    const r = randInt(10)
    const msg = {
      // a third of the records get an explicit partition (some of those have no key),
      // the rest are placed by KafkaJS's default (murmur2) partitioner from the key
      key: r === 0 ? null : `key-${randInt(150)}`,
      value: randText(randInt(10) === 0 ? 2000 + randInt(3000) : randInt(200)),
      headers: {
        seq: String(seq),
        codec: codecName,
        bin: randBytes(1 + randInt(16)),
      },
      timestamp: String(baseTs + seq),
    }
    if (r < 3) msg.partition = randInt(PARTITIONS)
    out.push(msg)
  }
  return out
}

function headerString(v) {
  if (v === undefined || v === null) return null
  if (Array.isArray(v)) return v.map(headerString)
  return Buffer.isBuffer(v) ? v.toString('hex') : Buffer.from(String(v)).toString('hex')
}

function expectedView(msg) {
  const h = {}
  for (const [k, v] of Object.entries(msg.headers)) h[k] = headerString(v)
  return { key: msg.key, value: msg.value, headers: h, timestamp: msg.timestamp }
}

const clip = v => { const t = JSON.stringify(v); return t.length > 80 ? `${t.slice(0, 77)}...` : t }

// Names the first field that differs between what was sent and what came back ('' when equal).
function describeDiff(expected, actual) {
  for (const field of ['key', 'value', 'headers', 'timestamp']) {
    const e = JSON.stringify(expected[field])
    const a = JSON.stringify(actual[field])
    if (e !== a) return `${field}: sent ${clip(expected[field])}, got ${clip(actual[field])}`
  }
  return ''
}

function receivedView(message) {
  const h = {}
  for (const [k, v] of Object.entries(message.headers || {})) h[k] = headerString(v)
  return {
    key: message.key === null ? null : message.key.toString('utf8'),
    value: message.value === null ? null : message.value.toString('utf8'),
    headers: h,
    timestamp: message.timestamp,
  }
}

// ---------------------------------------------------------------- main
async function main() {
  if (!BOOTSTRAP) throw new Error('KAFKA_BOOTSTRAP is not set')
  const suffix = `${SEED.toString(16)}-${process.pid}`
  const topic = `kafkajs-records-${suffix}`
  const groupId = `kafkajs-group-${suffix}`
  const level = { debug: logLevel.DEBUG, info: logLevel.INFO, warn: logLevel.WARN, error: logLevel.ERROR, nothing: logLevel.NOTHING }[process.env.KAFKAJS_LOG || 'nothing']
  const kafka = new Kafka({
    clientId: 'millrace-kafkajs-suite',
    brokers: [BOOTSTRAP],
    logLevel: level,
    connectionTimeout: 5000,
    requestTimeout: 15000,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 },
  })
  const codecs = setUpCodecs()
  const [bootHost, bootPort] = BOOTSTRAP.split(':')

  const admin = kafka.admin()
  await admin.connect()
  const consumers = []
  const producers = []
  try {
    // ---------------------------------------------------------- admin
    const cluster = await admin.describeCluster()
    check('admin describeCluster: one broker', cluster.brokers.length === 1, JSON.stringify(cluster.brokers))
    check('admin describeCluster: broker advertises the bootstrap address',
      cluster.brokers.some(b => b.host === bootHost && String(b.port) === bootPort), JSON.stringify(cluster.brokers))

    const created = await admin.createTopics({
      topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }],
      waitForLeaders: true,
      timeout: 15000,
    })
    check('admin createTopics returns true for a new topic', created === true, `got ${created}`)
    const createdAgain = await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], timeout: 15000 })
    check('admin createTopics returns false for an existing topic', createdAgain === false, `got ${createdAgain}`)

    const topics = await admin.listTopics()
    check('admin listTopics contains the new topic', topics.includes(topic), JSON.stringify(topics))

    const meta = await admin.fetchTopicMetadata({ topics: [topic] })
    const parts = meta.topics[0].partitions.map(p => p.partitionId).sort()
    checkEq('admin fetchTopicMetadata: 3 partitions', parts, [0, 1, 2])
    const brokerIds = cluster.brokers.map(b => b.nodeId)
    check('admin fetchTopicMetadata: every partition led by the broker',
      meta.topics[0].partitions.every(p => brokerIds.includes(p.leader) && p.replicas.length === 1 && p.isr.length === 1),
      JSON.stringify(meta.topics[0].partitions))

    const emptyOffsets = await admin.fetchTopicOffsets(topic)
    checkEq('admin fetchTopicOffsets on an empty topic',
      emptyOffsets.map(o => [o.partition, o.low, o.high]).sort(), [[0, '0', '0'], [1, '0', '0'], [2, '0', '0']])

    const noGroup = await retrying('fetchOffsets', () => admin.fetchOffsets({ groupId, topics: [topic] }))
    checkEq('admin fetchOffsets of a group without commits is -1 everywhere',
      noGroup[0].partitions.map(p => [p.partition, p.offset]).sort(), [[0, '-1'], [1, '-1'], [2, '-1']])

    // ---------------------------------------------------------- consumers
    const received = new Map() // seq -> [{member, partition, offset, view}]
    const perMember = [[], []]
    const joins = [[], []]
    function startMember(idx) {
      const consumer = kafka.consumer({
        groupId,
        sessionTimeout: 10000,
        rebalanceTimeout: 20000,
        heartbeatInterval: 300,
        maxWaitTimeInMs: 200,
        retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 2000 },
      })
      consumers.push(consumer)
      consumer.on(consumer.events.GROUP_JOIN, e => {
        const assigned = (e.payload.memberAssignment[topic] || []).slice().sort()
        joins[idx].push({ at: Date.now(), memberId: e.payload.memberId, assigned })
      })
      return (async () => {
        await consumer.connect()
        await consumer.subscribe({ topics: [topic], fromBeginning: true })
        await consumer.run({
          eachMessage: async ({ partition, message }) => {
            const view = receivedView(message)
            const seq = Number(view.headers.seq ? Buffer.from(view.headers.seq, 'hex').toString() : NaN)
            const entry = { member: idx, partition, offset: Number(message.offset), view }
            if (!received.has(seq)) received.set(seq, [])
            received.get(seq).push(entry)
            perMember[idx].push(entry)
          },
        })
        return consumer
      })()
    }
    const count = () => { let n = 0; for (const v of received.values()) n += v.length; return n }
    const latestJoin = idx => joins[idx][joins[idx].length - 1]

    await startMember(0)
    await waitFor('member 1 to be assigned all partitions', 30000,
      () => latestJoin(0) && JSON.stringify(latestJoin(0).assigned) === '[0,1,2]')
    pass('consumer group: the first member is assigned all 3 partitions')

    // ---------------------------------------------------------- produce
    const baseTs = Date.now() - 3600 * 1000
    const expected = new Map() // seq -> {msg, sendIdx}
    const sends = [] // {partitionOffsets: {p: baseOffset}, seqs}
    let nextSeq = 0
    async function produceCodec(producer, codec) {
      const msgs = makeRecords(codec.name, nextSeq, PER_CODEC, baseTs)
      nextSeq += PER_CODEC
      for (let i = 0; i < msgs.length; i += SEND_CHUNK) {
        const chunk = msgs.slice(i, i + SEND_CHUNK)
        const meta = await producer.send({ topic, compression: codec.type, acks: -1, messages: chunk })
        const partitionOffsets = {}
        for (const m of meta) {
          if (m.topicName !== topic || m.errorCode !== 0) throw new Error(`bad produce metadata ${JSON.stringify(m)}`)
          partitionOffsets[m.partition] = Number(m.baseOffset)
        }
        const sendIdx = sends.length
        sends.push({ partitionOffsets, seqs: chunk.map(m => Number(m.headers.seq)) })
        for (const m of chunk) expected.set(Number(m.headers.seq), { msg: m, sendIdx })
      }
    }

    const plainProducer = kafka.producer({ allowAutoTopicCreation: false })
    producers.push(plainProducer)
    await plainProducer.connect()
    const phaseA = codecs.slice(0, 1)
    const phaseB = codecs.slice(1)
    for (const codec of phaseA) {
      await produceCodec(plainProducer, codec)
      pass(`producer (acks=all) sent ${PER_CODEC} records with compression ${codec.name}`)
    }
    const phaseACount = nextSeq
    await waitFor(`member 1 to receive ${phaseACount} records`, 30000, () => count() >= phaseACount)
    const endA = await admin.fetchTopicOffsets(topic)
    await waitFor('member 1 to commit its offsets', 20000, async () => {
      const got = await retrying('fetchOffsets', () => admin.fetchOffsets({ groupId, topics: [topic] }))
      return endA.every(o => got[0].partitions.some(p => p.partition === o.partition && p.offset === o.high))
    })
    pass('consumer group: first member received and committed phase A')

    const member1JoinsBefore = joins[0].length
    const member2Started = Date.now()
    await startMember(1)
    let split = null
    await waitFor('the group to rebalance across both members', 40000, () => {
      const a = latestJoin(0)
      const b = latestJoin(1)
      if (!a || !b || joins[0].length <= member1JoinsBefore || a.at < member2Started) return false
      const all = [...a.assigned, ...b.assigned].sort()
      if (a.assigned.length === 0 || b.assigned.length === 0 || JSON.stringify(all) !== '[0,1,2]') return false
      split = [a.assigned, b.assigned]
      return true
    })
    pass(`consumer group: second member joined and the partitions were split ${JSON.stringify(split)}`)

    await soft('admin describeGroups', async () => {
      const desc = await retrying('describeGroups', () => admin.describeGroups([groupId]))
      const g = desc.groups[0]
      check('admin describeGroups: Stable with 2 members of protocol type consumer',
        g.state === 'Stable' && g.members.length === 2 && g.protocolType === 'consumer',
        `state=${g.state} members=${g.members.length} protocolType=${g.protocolType}`)
    })
    await soft('admin listGroups', async () => {
      const listed = await retrying('listGroups', () => admin.listGroups())
      check('admin listGroups contains the group', listed.groups.some(x => x.groupId === groupId), JSON.stringify(listed.groups))
    })

    const idemProducer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
    producers.push(idemProducer)
    await idemProducer.connect()
    for (const codec of phaseB) {
      await produceCodec(idemProducer, codec)
      pass(`idempotent producer sent ${PER_CODEC} records with compression ${codec.name}`)
    }
    const total = nextSeq
    try {
      await waitFor(`both members to receive all ${total} records`, 60000, () => count() >= total)
    } catch (e) {
      fail('consumer group: all records received', `${count()} of ${total}: ${e.message}`)
    }
    // give duplicates a chance to show up: wait until committed == end offsets
    const endAll = await admin.fetchTopicOffsets(topic)
    let committedOk = true
    try {
      await waitFor('committed offsets to reach the end offsets', 30000, async () => {
        const got = await retrying('fetchOffsets', () => admin.fetchOffsets({ groupId, topics: [topic] }))
        return endAll.every(o => got[0].partitions.some(p => p.partition === o.partition && p.offset === o.high))
      })
    } catch (e) {
      committedOk = false
    }
    const committed = await retrying('fetchOffsets', () => admin.fetchOffsets({ groupId, topics: [topic] }))
    check('admin fetchOffsets: the group committed every partition up to its end offset', committedOk,
      `committed ${JSON.stringify(committed[0].partitions)} end ${JSON.stringify(endAll.map(o => [o.partition, o.high]))}`)
    checkEq('admin fetchTopicOffsets: end offsets add up to the records sent',
      endAll.reduce((s, o) => s + Number(o.high), 0), total)

    // ---------------------------------------------------------- verify records
    const problems = []
    let dup = 0
    let missing = 0
    for (let seq = 0; seq < total; seq++) {
      const got = received.get(seq) || []
      if (got.length === 0) { missing++; continue }
      if (got.length > 1) { dup++; continue }
      const exp = expected.get(seq)
      const diff = describeDiff(expectedView(exp.msg), got[0].view)
      if (diff && problems.length < 5) problems.push(`seq ${seq}: ${diff}`)
      if (exp.msg.partition !== undefined && exp.msg.partition !== got[0].partition && problems.length < 5) {
        problems.push(`seq ${seq}: expected partition ${exp.msg.partition}, got ${got[0].partition}`)
      }
    }
    const unknown = [...received.keys()].filter(s => !expected.has(s))
    check('every record received exactly once across the two members', dup === 0 && missing === 0 && unknown.length === 0,
      `${dup} duplicated, ${missing} missing, ${unknown.length} unexpected`)
    check('every record has the exact key, value, headers and timestamp sent (and its explicit partition)',
      problems.length === 0, problems.join('; '))

    // same key -> same partition
    const keyPart = new Map()
    let keyConflicts = 0
    for (const [seq, got] of received) {
      const key = got[0].view.key
      if (key === null || !expected.has(seq) || expected.get(seq).msg.partition !== undefined) continue
      if (keyPart.has(key) && keyPart.get(key) !== got[0].partition) keyConflicts++
      keyPart.set(key, got[0].partition)
    }
    check('records with the same key (no explicit partition) landed in the same partition', keyConflicts === 0, `${keyConflicts} conflicts`)

    // offsets: contiguous from 0 per partition, in send order; base offsets match produce responses
    const byPartition = [[], [], []]
    for (const [seq, got] of received) if (got.length === 1) byPartition[got[0].partition].push({ seq, offset: got[0].offset })
    const offsetProblems = []
    byPartition.forEach((list, p) => {
      list.sort((x, y) => x.offset - y.offset)
      list.forEach((r, i) => {
        if (r.offset !== i && offsetProblems.length < 5) offsetProblems.push(`partition ${p} index ${i} has offset ${r.offset}`)
        if (i > 0 && r.seq < list[i - 1].seq && offsetProblems.length < 5) offsetProblems.push(`partition ${p} offset ${r.offset} out of send order`)
      })
    })
    check('offsets are contiguous from 0 in every partition and follow send order', offsetProblems.length === 0, offsetProblems.join('; '))
    const baseProblems = []
    sends.forEach((s, idx) => {
      for (const [p, base] of Object.entries(s.partitionOffsets)) {
        const offs = s.seqs.map(q => received.get(q)).filter(g => g && g.length === 1 && g[0].partition === Number(p)).map(g => g[0].offset)
        if (offs.length === 0 || Math.min(...offs) !== base) baseProblems.push(`send ${idx} partition ${p}: base ${base}, min received ${Math.min(...offs)}`)
      }
    })
    check('produce responses carry the base offset of each partition batch', baseProblems.length === 0, baseProblems.slice(0, 5).join('; '))

    // after the rebalance each partition was consumed by the member that owns it
    const phaseBEntries = [...received.entries()].filter(([seq]) => seq >= phaseACount).map(([, got]) => got[0])
    const ownerProblems = phaseBEntries.filter(e => !split[e.member].includes(e.partition)).length
    check('after the rebalance each member only received records of its own partitions', ownerProblems === 0, `${ownerProblems} records from a partition of the other member`)
    const m0 = phaseBEntries.filter(e => e.member === 0).length
    const m1 = phaseBEntries.filter(e => e.member === 1).length
    check('both members received records after the rebalance', m0 > 0 && m1 > 0, `member1=${m0} member2=${m1}`)

    for (const c of consumers.splice(0)) await c.disconnect()
    await soft('admin describeGroups after leaving', async () => {
      const afterLeave = await retrying('describeGroups', () => admin.describeGroups([groupId]))
      check('admin describeGroups: Empty once both members left', afterLeave.groups[0].state === 'Empty', `state=${afterLeave.groups[0].state}`)
    })

    // ---------------------------------------------------------- delete
    await soft('admin deleteTopics', async () => {
      await admin.deleteTopics({ topics: [topic], timeout: 15000 })
      try {
        await waitFor('the topic to disappear from listTopics', 15000, async () => !(await admin.listTopics()).includes(topic))
        pass('admin deleteTopics removes the topic')
      } catch (e) {
        fail('admin deleteTopics removes the topic', e.message)
      }
    })
  } finally {
    for (const c of consumers) await c.disconnect().catch(() => {})
    for (const p of producers) await p.disconnect().catch(() => {})
    await admin.disconnect().catch(() => {})
  }
}

const started = Date.now()
main().then(
  () => {
    console.log(`kafkajs suite done in ${((Date.now() - started) / 1000).toFixed(1)} s (${passed} passed, ${failed} failed, ${skipped} skipped)`)
    process.exit(failed ? 1 : 0)
  },
  err => {
    fail('kafkajs suite', err && err.stack ? err.stack : String(err))
    console.log(`kafkajs suite aborted after ${((Date.now() - started) / 1000).toFixed(1)} s (${passed} passed, ${failed} failed, ${skipped} skipped)`)
    process.exit(1)
  },
)
