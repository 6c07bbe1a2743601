package dev.millrace.kafkaclients;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Transactions with kafka-clients 4.1.1: commit and abort seen by read_committed and
 * read_uncommitted consumers, consume-transform-produce with sendOffsetsToTransaction
 * (an aborted transaction commits no offsets), zombie fencing with one transactional.id,
 * and the Admin client's describeTransactions / listTransactions. Reads KAFKA_BOOTSTRAP.
 * Prints "[PASS] name" / "[FAIL] name: why" per check; exits 1 when any check failed.
 */
public final class TxnSuite {
    private static int failed = 0;
    private static String bootstrap;
    private static final long SEED = Long.parseLong(System.getenv().getOrDefault("MILLRACE_TEST_SEED", "20260101"));
    private static final String SUFFIX = SEED + "-" + ProcessHandle.current().pid();

    private static void check(String name, boolean ok, String why) {
        if (ok) {
            System.out.println("[PASS] " + name);
        } else {
            failed++;
            System.out.println("[FAIL] " + name + ": " + why);
        }
    }

    private static void checkEq(String name, Object expected, Object actual) {
        check(name, expected.equals(actual), "expected " + expected + ", got " + actual);
    }

    private static KafkaProducer<String, String> producer(String txnId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    private static KafkaConsumer<String, String> consumer(String group, String isolation) {
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        c.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        return new KafkaConsumer<>(c);
    }

    /** Every value of the topic, read until each position reaches the end offset for this isolation level. */
    private static List<String> readAll(String topic, int partitions, String isolation) {
        List<String> out = new ArrayList<>();
        try (KafkaConsumer<String, String> c = consumer("reader-" + topic + "-" + isolation, isolation)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int p = 0; p < partitions; p++) tps.add(new TopicPartition(topic, p));
            c.assign(tps);
            c.seekToBeginning(tps);
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) out.add(r.value());
                // endOffsets follows the consumer's isolation level (the LSO for read_committed).
                Map<TopicPartition, Long> ends = c.endOffsets(tps);
                boolean done = true;
                for (TopicPartition tp : tps) done &= c.position(tp) >= ends.get(tp);
                if (done) return out;
            }
            throw new IllegalStateException(topic + ": the " + isolation + " reader did not reach the end");
        }
    }

    private static void commitAndAbort(Admin admin) throws Exception {
        String topic = "jtxn-ca-" + SUFFIX;
        admin.createTopics(List.of(new NewTopic(topic, 2, (short) 1))).all().get();
        List<String> expected = new ArrayList<>();
        try (KafkaProducer<String, String> p = producer("jtxn-ca-" + SUFFIX)) {
            p.initTransactions();
            int[][] plan = {{100, 1}, {40, 0}, {25, 1}};
            for (int batch = 0; batch < plan.length; batch++) {
                p.beginTransaction();
                for (int idx = 0; idx < plan[batch][0]; idx++) {
                    String value = "b" + batch + "-" + idx;
                    p.send(new ProducerRecord<>(topic, "k" + (idx % 5), value));
                    if (plan[batch][1] == 1) expected.add(value);
                }
                // abortTransaction drops unsent records: flush so the aborted ones reach the log.
                p.flush();
                if (plan[batch][1] == 1) p.commitTransaction(); else p.abortTransaction();
            }
        }
        List<String> committed = readAll(topic, 2, "read_committed");
        Collections.sort(committed);
        Collections.sort(expected);
        checkEq("java commit/abort: read_committed sees exactly the 125 committed records", expected, committed);
        checkEq("java commit/abort: read_uncommitted sees all 165 records", 165, readAll(topic, 2, "read_uncommitted").size());
    }

    private static void consumeTransformProduce(Admin admin) throws Exception {
        String src = "jtxn-in-" + SUFFIX, dst = "jtxn-out-" + SUFFIX, group = "jtxn-ctp-" + SUFFIX;
        admin.createTopics(List.of(new NewTopic(src, 2, (short) 1), new NewTopic(dst, 2, (short) 1))).all().get();
        Properties plainProps = new Properties();
        plainProps.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        plainProps.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        plainProps.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        try (KafkaProducer<String, String> plain = new KafkaProducer<>(plainProps)) {
            for (int idx = 0; idx < 120; idx++) plain.send(new ProducerRecord<>(src, "k" + idx, "v" + idx));
        }
        Set<String> aborted = new TreeSet<>();
        try (KafkaProducer<String, String> p = producer("jtxn-ctp-" + SUFFIX);
             KafkaConsumer<String, String> c = consumer(group, "read_committed")) {
            p.initTransactions();
            c.subscribe(List.of(src));
            int seen = 0;
            boolean abortedOnce = false;
            long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
            while (seen < 120 && System.nanoTime() < deadline) {
                var records = c.poll(Duration.ofMillis(500));
                if (records.isEmpty()) continue;
                p.beginTransaction();
                Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                List<String> values = new ArrayList<>();
                for (ConsumerRecord<String, String> r : records) {
                    p.send(new ProducerRecord<>(dst, r.key(), r.value().toUpperCase()));
                    offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                    values.add(r.value());
                }
                p.sendOffsetsToTransaction(offsets, c.groupMetadata());
                if (!abortedOnce) {
                    // The first batch is aborted: rewind and process it again.
                    abortedOnce = true;
                    p.abortTransaction();
                    aborted.addAll(values);
                    Map<TopicPartition, OffsetAndMetadata> committed = c.committed(c.assignment());
                    boolean none = committed.values().stream().allMatch(o -> o == null);
                    check("java consume-transform-produce: an aborted transaction commits no offsets", none,
                          "committed " + committed);
                    for (TopicPartition tp : c.assignment()) {
                        OffsetAndMetadata o = committed.get(tp);
                        c.seek(tp, o == null ? 0 : o.offset());
                    }
                    continue;
                }
                p.commitTransaction();
                seen += values.size();
            }
            Map<TopicPartition, OffsetAndMetadata> committed = c.committed(c.assignment());
            long total = committed.values().stream().mapToLong(o -> o == null ? 0 : o.offset()).sum();
            checkEq("java consume-transform-produce: committed offsets cover all 120 input records", 120L, total);
        }
        List<String> out = readAll(dst, 2, "read_committed");
        Collections.sort(out);
        List<String> want = new ArrayList<>();
        for (int idx = 0; idx < 120; idx++) want.add("V" + idx);
        Collections.sort(want);
        checkEq("java consume-transform-produce: every input record is in the output exactly once", want, out);
        check("java consume-transform-produce: the aborted batch was not empty", !aborted.isEmpty(), "nothing aborted");
    }

    private static void zombieFencing(Admin admin) throws Exception {
        String topic = "jtxn-z-" + SUFFIX, txnId = "jtxn-z-" + SUFFIX;
        admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        KafkaProducer<String, String> zombie = producer(txnId);
        zombie.initTransactions();
        zombie.beginTransaction();
        for (int idx = 0; idx < 10; idx++) zombie.send(new ProducerRecord<>(topic, "zombie-" + idx));
        zombie.flush();
        try (KafkaProducer<String, String> fresh = producer(txnId)) {
            fresh.initTransactions();
            Throwable error = null;
            try {
                zombie.commitTransaction();
            } catch (KafkaException e) {
                error = e;
            }
            check("java zombie fencing: the old producer's commit throws ProducerFencedException",
                  error instanceof ProducerFencedException, "got " + error);
            zombie.close(Duration.ZERO);
            fresh.beginTransaction();
            for (int idx = 0; idx < 5; idx++) fresh.send(new ProducerRecord<>(topic, "fresh-" + idx));
            fresh.commitTransaction();
        }
        checkEq("java zombie fencing: only the new producer's records are committed",
                List.of("fresh-0", "fresh-1", "fresh-2", "fresh-3", "fresh-4"), readAll(topic, 1, "read_committed"));
        TransactionDescription d = admin.describeTransactions(List.of(txnId)).description(txnId).get();
        checkEq("java describeTransactions: state of a committed transaction", "CompleteCommit", d.state().toString());
        boolean listed = admin.listTransactions().all().get().stream().anyMatch(l -> l.transactionalId().equals(txnId));
        check("java listTransactions: the transactional id is listed", listed, "not listed");
    }

    public static void main(String[] args) {
        bootstrap = System.getenv("KAFKA_BOOTSTRAP");
        if (bootstrap == null) {
            System.err.println("KAFKA_BOOTSTRAP is not set");
            System.exit(2);
        }
        Properties a = new Properties();
        a.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(a)) {
            for (var scenario : List.<Scenario>of(TxnSuite::commitAndAbort, TxnSuite::consumeTransformProduce,
                                                  TxnSuite::zombieFencing)) {
                try {
                    scenario.run(admin);
                } catch (Exception e) {
                    failed++;
                    System.out.println("[FAIL] java txn scenario ran: " + e);
                    e.printStackTrace(System.out);
                }
            }
        }
        System.exit(failed == 0 ? 0 : 1);
    }

    private interface Scenario {
        void run(Admin admin) throws Exception;
    }
}
