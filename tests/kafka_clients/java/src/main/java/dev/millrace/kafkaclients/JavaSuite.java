package dev.millrace.kafkaclients;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.function.BooleanSupplier;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.record.TimestampType;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Java client suite: AdminClient, KafkaProducer with default settings (idempotent, acks=all) for
 * every compression type, and KafkaConsumer groups with manual commits. Reads KAFKA_BOOTSTRAP.
 * Prints "[PASS] name" / "[FAIL] name: why" per check; exits 1 when any check failed.
 */
public final class JavaSuite {
    private static final int PARTITIONS = 3;
    private static final String[] CODECS = {"none", "gzip", "snappy", "lz4", "zstd"};

    private static int passed;
    private static int failed;

    private final String bootstrap;
    private final Random rng;
    private final String topic;
    private final String group;
    private final long baseTs = System.currentTimeMillis() - 3_600_000L;

    /** What was sent for one record, and where the producer says it went. */
    private static final class Sent {
        final long seq;
        final byte[] key;
        final byte[] value;
        final Header[] headers;
        final Integer explicitPartition;
        final long timestamp;
        RecordMetadata meta;

        Sent(long seq, byte[] key, byte[] value, Header[] headers, Integer explicitPartition, long timestamp) {
            this.seq = seq;
            this.key = key;
            this.value = value;
            this.headers = headers;
            this.explicitPartition = explicitPartition;
            this.timestamp = timestamp;
        }
    }

    private final Map<Long, Sent> sent = new TreeMap<>();
    private long nextSeq;

    private JavaSuite(String bootstrap, long seed) {
        this.bootstrap = bootstrap;
        this.rng = new Random(seed);
        String suffix = Long.toHexString(seed) + "-" + ProcessHandle.current().pid();
        this.topic = "java-records-" + suffix;
        this.group = "java-group-" + suffix;
    }

    // ------------------------------------------------------------------ reporting

    private static void pass(String name) {
        passed++;
        System.out.println("[PASS] " + name);
        System.out.flush();
    }

    private static void fail(String name, String why) {
        failed++;
        System.out.println("[FAIL] " + name + ": " + why);
        System.out.flush();
    }

    private static void check(String name, boolean ok, String why) {
        if (ok) {
            pass(name);
        } else {
            fail(name, why);
        }
    }

    private static void checkEq(String name, Object expected, Object actual) {
        check(name, expected.equals(actual), "expected " + expected + ", got " + actual);
    }

    private static boolean waitFor(long timeoutMs, BooleanSupplier cond) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(50);
        }
        return true;
    }

    // ------------------------------------------------------------------ configs

    private Properties common() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "millrace-java-suite");
        return p;
    }

    private KafkaProducer<byte[], byte[]> producer(String compression) {
        Properties p = common();
        // Everything else stays at the client's defaults: enable.idempotence=true, acks=all.
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
        return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    }

    private KafkaConsumer<byte[], byte[]> consumer() {
        Properties p = common();
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "500");
        p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "200");
        return new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    // ------------------------------------------------------------------ records

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private String randomText(int len) {
        String alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.:;äöü€漢字";
        StringBuilder sb = new StringBuilder(len);
        for (int i = 0; i < len; i++) {
            sb.append(alphabet.charAt(rng.nextInt(alphabet.length())));
        }
        return sb.toString();
    }

    private Sent makeRecord(String codec) {
        long seq = nextSeq++;
        int r = rng.nextInt(10);
        byte[] key = r == 0 ? null : utf8("key-" + rng.nextInt(150));
        byte[] value;
        if (rng.nextInt(50) == 0) {
            value = null; // a tombstone-style record
        } else {
            value = utf8(randomText(rng.nextInt(10) == 0 ? 2000 + rng.nextInt(4000) : rng.nextInt(200)));
        }
        byte[] bin = new byte[1 + rng.nextInt(24)];
        rng.nextBytes(bin);
        List<Header> headers = new ArrayList<>();
        headers.add(new RecordHeader("seq", ByteBuffer.allocate(8).putLong(seq).array()));
        headers.add(new RecordHeader("codec", utf8(codec)));
        headers.add(new RecordHeader("bin", bin));
        if (rng.nextInt(4) == 0) {
            headers.add(new RecordHeader("dup", utf8("first")));
            headers.add(new RecordHeader("dup", utf8("second")));
        }
        if (rng.nextInt(4) == 0) {
            headers.add(new RecordHeader("nullable", (byte[]) null));
        }
        Integer partition = r < 3 ? rng.nextInt(PARTITIONS) : null;
        return new Sent(seq, key, value, headers.toArray(new Header[0]), partition, baseTs + seq * 3);
    }

    private static long seqOf(ConsumerRecord<byte[], byte[]> rec) {
        Header h = rec.headers().lastHeader("seq");
        return h == null || h.value() == null || h.value().length != 8 ? -1 : ByteBuffer.wrap(h.value()).getLong();
    }

    private static String describeHeaders(Header[] headers) {
        StringBuilder sb = new StringBuilder("[");
        for (Header h : headers) {
            sb.append(h.key()).append('=').append(h.value() == null ? "null" : Arrays.toString(h.value())).append(' ');
        }
        return sb.append(']').toString();
    }

    /** Empty when the record matches what was sent, else the first difference. */
    private static String compare(Sent s, ConsumerRecord<byte[], byte[]> rec) {
        if (!Arrays.equals(s.key, rec.key())) {
            return "key differs";
        }
        if (!Arrays.equals(s.value, rec.value())) {
            return "value differs";
        }
        Header[] got = rec.headers().toArray();
        boolean headersEqual = got.length == s.headers.length;
        for (int i = 0; headersEqual && i < got.length; i++) {
            headersEqual = got[i].key().equals(s.headers[i].key()) && Arrays.equals(got[i].value(), s.headers[i].value());
        }
        if (!headersEqual) {
            return "headers differ: sent " + describeHeaders(s.headers) + " got " + describeHeaders(got);
        }
        if (rec.partition() != s.meta.partition() || rec.offset() != s.meta.offset()) {
            return "at " + rec.partition() + "/" + rec.offset() + " but the producer was told " + s.meta.partition() + "/"
                    + s.meta.offset();
        }
        if (s.explicitPartition != null && rec.partition() != s.explicitPartition) {
            return "sent to partition " + s.explicitPartition + " but read from " + rec.partition();
        }
        if (rec.timestamp() != s.timestamp || rec.timestampType() != TimestampType.CREATE_TIME) {
            return "timestamp " + rec.timestampType() + " " + rec.timestamp() + ", sent " + s.timestamp;
        }
        return "";
    }

    // ------------------------------------------------------------------ steps

    private void produceAll(int perCodec) throws Exception {
        for (String codec : CODECS) {
            List<Sent> batch = new ArrayList<>();
            List<Future<RecordMetadata>> futures = new ArrayList<>();
            try (KafkaProducer<byte[], byte[]> producer = producer(codec)) {
                for (int i = 0; i < perCodec; i++) {
                    Sent s = makeRecord(codec);
                    batch.add(s);
                    futures.add(producer.send(new ProducerRecord<>(topic, s.explicitPartition, s.timestamp, s.key, s.value,
                            Arrays.asList(s.headers))));
                }
                producer.flush();
                String error = "";
                for (int i = 0; i < batch.size(); i++) {
                    try {
                        batch.get(i).meta = futures.get(i).get();
                        sent.put(batch.get(i).seq, batch.get(i));
                    } catch (ExecutionException e) {
                        if (error.isEmpty()) {
                            error = e.getCause().toString();
                        }
                    }
                }
                check("producer (default settings) compression.type=" + codec + ": " + perCodec + " records acknowledged",
                        error.isEmpty(), error);
            }
        }
    }

    private void adminChecks(Admin admin) throws Exception {
        DescribeClusterResult cluster = admin.describeCluster();
        Collection<Node> nodes = cluster.nodes().get();
        String[] hp = bootstrap.split(":");
        check("admin describeCluster: one node at the bootstrap address",
                nodes.size() == 1 && nodes.iterator().next().host().equals(hp[0])
                        && nodes.iterator().next().port() == Integer.parseInt(hp[1]),
                nodes.toString());
        step("admin describeCluster: cluster id and controller", () -> {
            String clusterId = cluster.clusterId().get();
            check("admin describeCluster: has a cluster id", clusterId != null && !clusterId.isEmpty(),
                    String.valueOf(clusterId));
            Node controller = cluster.controller().get();
            check("admin describeCluster: reports a controller node", controller != null && !controller.isEmpty(),
                    String.valueOf(controller));
        });

        admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1))).all().get();
        pass("admin createTopics: " + PARTITIONS + " partitions, replication factor 1");
        try {
            admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1))).all().get();
            fail("admin createTopics: an existing topic is refused", "no error");
        } catch (ExecutionException e) {
            check("admin createTopics: an existing topic is refused with TopicExistsException",
                    e.getCause() instanceof TopicExistsException, e.getCause().toString());
        }
        check("admin listTopics contains the topic", admin.listTopics().names().get().contains(topic), "missing");

        TopicDescription td = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
        int nodeId = nodes.iterator().next().id();
        boolean partitionsOk = td.partitions().size() == PARTITIONS;
        for (int i = 0; partitionsOk && i < td.partitions().size(); i++) {
            TopicPartitionInfo p = td.partitions().get(i);
            partitionsOk = p.partition() == i && p.leader() != null && p.leader().id() == nodeId && p.replicas().size() == 1
                    && p.isr().size() == 1;
        }
        check("admin describeTopics: 3 partitions, each led by the broker with one in-sync replica", partitionsOk,
                td.toString());
        check("admin describeTopics: the topic has a (non-zero) topic id and is not internal",
                td.topicId() != null && !Uuid.ZERO_UUID.equals(td.topicId()) && !td.isInternal(), td.toString());
    }

    private Map<TopicPartition, ListOffsetsResultInfo> listOffsets(Admin admin, OffsetSpec spec) throws Exception {
        Map<TopicPartition, OffsetSpec> req = new HashMap<>();
        for (int p = 0; p < PARTITIONS; p++) {
            req.put(new TopicPartition(topic, p), spec);
        }
        return admin.listOffsets(req).all().get();
    }

    private void listOffsetChecks(Admin admin) throws Exception {
        Map<Integer, List<Sent>> byPartition = new HashMap<>();
        for (Sent s : sent.values()) {
            byPartition.computeIfAbsent(s.meta.partition(), k -> new ArrayList<>()).add(s);
        }
        Map<TopicPartition, ListOffsetsResultInfo> earliest = listOffsets(admin, OffsetSpec.earliest());
        Map<TopicPartition, ListOffsetsResultInfo> latest = listOffsets(admin, OffsetSpec.latest());
        Map<TopicPartition, ListOffsetsResultInfo> maxTs = listOffsets(admin, OffsetSpec.maxTimestamp());
        StringBuilder problems = new StringBuilder();
        StringBuilder tsProblems = new StringBuilder();
        for (int p = 0; p < PARTITIONS; p++) {
            TopicPartition tp = new TopicPartition(topic, p);
            List<Sent> list = byPartition.getOrDefault(p, List.of());
            if (earliest.get(tp).offset() != 0 || latest.get(tp).offset() != list.size()) {
                problems.append(String.format("p%d earliest=%d latest=%d records=%d; ", p, earliest.get(tp).offset(),
                        latest.get(tp).offset(), list.size()));
            }
            if (list.isEmpty()) {
                continue;
            }
            // timestamps grow with seq, and within a partition offsets grow with seq too
            Sent last = list.get(list.size() - 1);
            if (maxTs.get(tp).offset() != last.meta.offset() || maxTs.get(tp).timestamp() != last.timestamp) {
                tsProblems.append(String.format("p%d maxTimestamp -> %d@%d, expected %d@%d; ", p, maxTs.get(tp).offset(),
                        maxTs.get(tp).timestamp(), last.meta.offset(), last.timestamp));
            }
            Sent middle = list.get(list.size() / 2);
            ListOffsetsResultInfo at = listOffsets(admin, OffsetSpec.forTimestamp(middle.timestamp - 1)).get(tp);
            if (at.offset() != middle.meta.offset() || at.timestamp() != middle.timestamp) {
                tsProblems.append(String.format("p%d forTimestamp(%d) -> %d@%d, expected %d@%d; ", p, middle.timestamp - 1,
                        at.offset(), at.timestamp(), middle.meta.offset(), middle.timestamp));
            }
            ListOffsetsResultInfo beyond = listOffsets(admin, OffsetSpec.forTimestamp(last.timestamp + 1)).get(tp);
            if (beyond.offset() != -1) {
                tsProblems.append(String.format("p%d forTimestamp(after last) -> %d, expected -1; ", p, beyond.offset()));
            }
        }
        check("admin listOffsets: earliest is 0 and latest is the record count in every partition",
                problems.length() == 0, problems.toString());
        check("admin listOffsets: maxTimestamp and forTimestamp find the right records", tsProblems.length() == 0,
                tsProblems.toString());
    }

    private Map<Long, ConsumerRecord<byte[], byte[]>> consumeAll(KafkaConsumer<byte[], byte[]> consumer, long want,
            long timeoutMs, int[] duplicates) {
        Map<Long, ConsumerRecord<byte[], byte[]>> got = new HashMap<>();
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        while (got.size() < want && System.nanoTime() < deadline) {
            ConsumerRecords<byte[], byte[]> recs = consumer.poll(Duration.ofMillis(200));
            for (ConsumerRecord<byte[], byte[]> rec : recs) {
                if (got.put(seqOf(rec), rec) != null) {
                    duplicates[0]++;
                }
            }
            if (!recs.isEmpty()) {
                consumer.commitSync();
            }
        }
        return got;
    }

    private Map<TopicPartition, Long> endOffsets(KafkaConsumer<byte[], byte[]> consumer) {
        Set<TopicPartition> tps = new HashSet<>();
        for (int p = 0; p < PARTITIONS; p++) {
            tps.add(new TopicPartition(topic, p));
        }
        return consumer.endOffsets(tps, Duration.ofSeconds(15));
    }

    private void consumeChecks() throws Exception {
        int[] dups = {0};
        Map<Long, ConsumerRecord<byte[], byte[]>> got;
        try (KafkaConsumer<byte[], byte[]> consumer = consumer()) {
            consumer.subscribe(List.of(topic));
            got = consumeAll(consumer, sent.size(), 60_000, dups);
            Set<TopicPartition> assigned = consumer.assignment();
            check("consumer: the only member is assigned all 3 partitions", assigned.size() == PARTITIONS,
                    assigned.toString());
            checkEq("consumer: every record read back once", sent.size() + " records, 0 duplicates",
                    got.size() + " records, " + dups[0] + " duplicates");
            String mismatch = "";
            int bad = 0;
            for (Sent s : sent.values()) {
                ConsumerRecord<byte[], byte[]> rec = got.get(s.seq);
                String diff = rec == null ? "missing" : compare(s, rec);
                if (!diff.isEmpty()) {
                    bad++;
                    if (mismatch.isEmpty()) {
                        mismatch = "seq " + s.seq + ": " + diff;
                    }
                }
            }
            check("consumer: keys, values, headers (order, duplicates, null values), partitions, offsets and timestamps"
                    + " match exactly", bad == 0, bad + " records differ, first " + mismatch);
            Map<TopicPartition, Long> end = endOffsets(consumer);
            Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(end.keySet(), Duration.ofSeconds(15));
            boolean ok = true;
            for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
                OffsetAndMetadata c = committed.get(e.getKey());
                ok &= c != null && c.offset() == e.getValue();
            }
            check("consumer: committed offsets (commitSync) equal the end offsets", ok, "committed " + committed + " end " + end);
        }
    }

    private void resumeChecks() throws Exception {
        long firstNew = nextSeq;
        int extra = 30;
        try (KafkaProducer<byte[], byte[]> producer = producer("none")) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            List<Sent> batch = new ArrayList<>();
            for (int i = 0; i < extra; i++) {
                Sent s = makeRecord("none");
                batch.add(s);
                fs.add(producer.send(new ProducerRecord<>(topic, s.explicitPartition, s.timestamp, s.key, s.value,
                        Arrays.asList(s.headers))));
            }
            for (int i = 0; i < extra; i++) {
                batch.get(i).meta = fs.get(i).get();
                sent.put(batch.get(i).seq, batch.get(i));
            }
        }
        int[] dups = {0};
        try (KafkaConsumer<byte[], byte[]> consumer = consumer()) {
            consumer.subscribe(List.of(topic));
            Map<Long, ConsumerRecord<byte[], byte[]>> got = consumeAll(consumer, extra, 30_000, dups);
            Map<TopicPartition, Long> end = endOffsets(consumer);
            // keep polling until the consumer's position reached the end everywhere, so a record
            // that should not be there has every chance to show up
            boolean atEnd = waitFor(15_000, () -> {
                for (ConsumerRecord<byte[], byte[]> rec : consumer.poll(Duration.ofMillis(100))) {
                    if (got.put(seqOf(rec), rec) != null) {
                        dups[0]++;
                    }
                }
                for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
                    if (!consumer.assignment().contains(e.getKey()) || consumer.position(e.getKey()) != e.getValue()) {
                        return false;
                    }
                }
                return true;
            });
            long old = got.keySet().stream().filter(s -> s < firstNew).count();
            check("second consumer in the group resumes from the committed offsets: exactly the " + extra + " new records",
                    atEnd && got.size() == extra && old == 0 && dups[0] == 0,
                    "atEnd=" + atEnd + " got=" + got.size() + " old=" + old + " duplicates=" + dups[0]);
            String mismatch = "";
            for (Map.Entry<Long, ConsumerRecord<byte[], byte[]>> e : got.entrySet()) {
                Sent s = sent.get(e.getKey());
                String diff = s == null ? "unknown record" : compare(s, e.getValue());
                if (!diff.isEmpty() && mismatch.isEmpty()) {
                    mismatch = "seq " + e.getKey() + ": " + diff;
                }
            }
            check("second consumer: the new records match exactly", mismatch.isEmpty(), mismatch);
        }
    }

    private void deleteChecks(Admin admin) throws Exception {
        admin.deleteTopics(List.of(topic)).all().get();
        boolean gone = waitFor(15_000, () -> {
            try {
                return !admin.listTopics().names().get().contains(topic);
            } catch (Exception e) {
                return false;
            }
        });
        check("admin deleteTopics removes the topic", gone, "still listed");
    }

    private interface Step {
        void run() throws Exception;
    }

    /** Runs one step; an exception fails it (with its cause) and the suite goes on with the next step. */
    private static void step(String name, Step s) {
        try {
            s.run();
        } catch (Throwable t) {
            Throwable cause = t instanceof ExecutionException && t.getCause() != null ? t.getCause() : t;
            fail(name, cause.toString());
            cause.printStackTrace(System.out);
        }
    }

    private void run(int perCodec) throws Exception {
        try (Admin admin = Admin.create(common())) {
            adminChecks(admin);
            produceAll(perCodec);
            step("admin listOffsets", () -> listOffsetChecks(admin));
            step("consumer", this::consumeChecks);
            step("second consumer", this::resumeChecks);
            step("admin listConsumerGroupOffsets", () -> {
                Map<TopicPartition, OffsetAndMetadata> offs =
                        admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
                long total = offs.values().stream().mapToLong(OffsetAndMetadata::offset).sum();
                checkEq("admin listConsumerGroupOffsets: committed offsets add up to every record", (long) sent.size(),
                        total);
            });
            step("admin deleteTopics", () -> deleteChecks(admin));
        }
    }

    public static void main(String[] args) {
        String level = Optional.ofNullable(System.getenv("JAVA_SUITE_LOG")).orElse("warn");
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level);
        System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
        String bootstrap = System.getenv("KAFKA_BOOTSTRAP");
        if (bootstrap == null || bootstrap.isEmpty()) {
            System.err.println("KAFKA_BOOTSTRAP is not set");
            System.exit(2);
        }
        long seed = Long.parseLong(Optional.ofNullable(System.getenv("MILLRACE_TEST_SEED")).orElse("20260101"));
        int perCodec = Integer.parseInt(Optional.ofNullable(System.getenv("JAVA_RECORDS_PER_CODEC")).orElse("1000"));
        long started = System.nanoTime();
        try {
            new JavaSuite(bootstrap, seed).run(perCodec);
        } catch (Throwable t) {
            fail("java suite", t.toString());
            t.printStackTrace(System.out);
        }
        System.out.printf("java suite done in %.1f s (%d passed, %d failed)%n", (System.nanoTime() - started) / 1e9,
                passed, failed);
        System.out.flush();
        System.exit(failed == 0 ? 0 : 1);
    }
}
