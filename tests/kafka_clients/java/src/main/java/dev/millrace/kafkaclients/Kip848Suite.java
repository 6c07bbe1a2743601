package dev.millrace.kafkaclients;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListGroupsOptions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * KIP-848 consumer groups with the Java client 4.1 ({@code group.protocol=consumer}). Members join
 * and leave while consuming: A and B, then C, then A leaves; the broker restarts (run.py, on the
 * same port) while B and C keep running; D joins. Each member counts a polled batch only once its
 * offsets are committed (a failed commit means the partition moved: the batch is dropped and the
 * member seeks back), so every record must be counted exactly once. Also: the admin client sees a
 * CONSUMER group with its members, and the committed offsets add up to every record.
 *
 * The restart handshake: this program prints "RESTART BROKER" and reads "RESTARTED host:port"
 * from stdin. Reads KAFKA_BOOTSTRAP; prints [PASS]/[FAIL] lines; exits 1 on any failure.
 */
public final class Kip848Suite {
    private static final int PARTITIONS = 6;
    private static final int PER_ROUND = 800;
    private static final int ROUNDS = 3;

    private static int passed;
    private static int failed;

    private final String bootstrap;
    private final Random rng;
    private final String topic;
    private final String group;
    private final Map<String, AtomicInteger> counted = new ConcurrentHashMap<>();  // "partition:offset" -> times
    private final AtomicInteger produced = new AtomicInteger();
    private final List<String> memberErrors = java.util.Collections.synchronizedList(new ArrayList<>());

    private Kip848Suite(String bootstrap, long seed) {
        this.bootstrap = bootstrap;
        this.rng = new Random(seed);
        String suffix = Long.toHexString(seed) + "-" + ProcessHandle.current().pid();
        this.topic = "kip848-" + suffix;
        this.group = "kip848-group-" + suffix;
    }

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

    private Properties admin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "kip848-admin");
        return p;
    }

    /** One group member on its own thread: poll, commit, then count. */
    private final class Member implements Runnable {
        final String name;
        final AtomicBoolean stop = new AtomicBoolean();
        final Set<TopicPartition> owned = ConcurrentHashMap.newKeySet();
        final AtomicInteger committedBatches = new AtomicInteger();
        final AtomicInteger failedCommits = new AtomicInteger();
        Thread thread;

        Member(String name) {
            this.name = name;
        }

        void start() {
            thread = new Thread(this, "member-" + name);
            thread.start();
        }

        void stopAndJoin() throws InterruptedException {
            stop.set(true);
            thread.join(60_000);
        }

        @Override
        public void run() {
            Properties p = new Properties();
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
            p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, "consumer");
            p.put(ConsumerConfig.CLIENT_ID_CONFIG, "kip848-" + name);
            p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
            p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "50");
            p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
            p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
            try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
                consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                    @Override
                    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                        owned.removeAll(partitions);
                    }

                    @Override
                    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                        owned.addAll(partitions);
                    }

                    @Override
                    public void onPartitionsLost(Collection<TopicPartition> partitions) {
                        owned.removeAll(partitions);
                    }
                });
                while (!stop.get()) {
                    ConsumerRecords<byte[], byte[]> records;
                    try {
                        records = consumer.poll(Duration.ofMillis(200));
                    } catch (Exception e) {
                        memberErrors.add(name + " poll: " + e);
                        continue;
                    }
                    if (records.isEmpty()) {
                        continue;
                    }
                    Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
                    Map<TopicPartition, Long> first = new HashMap<>();
                    List<String> batch = new ArrayList<>();
                    for (ConsumerRecord<byte[], byte[]> r : records) {
                        TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                        first.putIfAbsent(tp, r.offset());
                        next.put(tp, new OffsetAndMetadata(r.offset() + 1));
                        batch.add(r.partition() + ":" + r.offset());
                    }
                    try {
                        consumer.commitSync(next, Duration.ofSeconds(30));
                    } catch (Exception e) {
                        // The partitions moved (or the commit failed): the batch does not
                        // count; whoever owns them next reads from the committed offsets.
                        failedCommits.incrementAndGet();
                        for (Map.Entry<TopicPartition, Long> f : first.entrySet()) {
                            if (consumer.assignment().contains(f.getKey())) {
                                consumer.seek(f.getKey(), f.getValue());
                            }
                        }
                        continue;
                    }
                    committedBatches.incrementAndGet();
                    for (String key : batch) {
                        counted.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
                    }
                }
            } catch (Exception e) {
                memberErrors.add(name + ": " + e);
            }
        }
    }

    private void produce(int count) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < count; i++) {
                byte[] value = new byte[16 + rng.nextInt(64)];
                rng.nextBytes(value);
                producer.send(new ProducerRecord<>(topic, rng.nextInt(PARTITIONS), null, value));
            }
            producer.flush();
        }
        produced.addAndGet(count);
    }

    private boolean consumedAtLeast(int n, long timeoutMs) throws InterruptedException {
        return waitFor(timeoutMs, () -> counted.size() >= n);
    }

    private ConsumerGroupDescription describe(Admin admin) throws Exception {
        return admin.describeConsumerGroups(List.of(group)).all().get().get(group);
    }

    private void run() throws Exception {
        try (Admin admin = Admin.create(admin())) {
            admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1))).all().get();
            pass("topic with " + PARTITIONS + " partitions created");
            produce(PER_ROUND);

            Member a = new Member("a");
            Member b = new Member("b");
            Member c = new Member("c");
            Member d = new Member("d");
            a.start();
            b.start();
            check("two members consume", consumedAtLeast(PER_ROUND / 2, 90_000), "consumed " + counted.size());
            check("both members own partitions", waitFor(60_000, () -> !a.owned.isEmpty() && !b.owned.isEmpty()),
                    "a owns " + a.owned + ", b owns " + b.owned);

            ConsumerGroupDescription two = describe(admin);
            check("describeConsumerGroups: a CONSUMER group", two.type() == GroupType.CONSUMER, "type " + two.type());
            check("describeConsumerGroups: two members", two.members().size() == 2, "members " + two.members());

            produce(PER_ROUND);
            c.start();
            check("a third member gets partitions", waitFor(90_000, () -> !c.owned.isEmpty()), "c owns nothing");
            check("three members split the partitions without overlap",
                    waitFor(60_000, () -> a.owned.size() + b.owned.size() + c.owned.size() == PARTITIONS
                            && disjoint(a.owned, b.owned, c.owned)),
                    "a " + a.owned + " b " + b.owned + " c " + c.owned);
            List<GroupListing> listed = new ArrayList<>(admin.listGroups(ListGroupsOptions.forConsumerGroups()).all().get());
            check("listGroups: the group is listed with type CONSUMER",
                    listed.stream().anyMatch(g -> g.groupId().equals(group) && g.type().orElse(null) == GroupType.CONSUMER),
                    "listed " + listed);
            a.stopAndJoin();
            check("after a leaves, b and c take all partitions",
                    waitFor(90_000, () -> b.owned.size() + c.owned.size() == PARTITIONS && disjoint(b.owned, c.owned)),
                    "b " + b.owned + " c " + c.owned);
            check("records of both rounds consumed", consumedAtLeast(2 * PER_ROUND, 120_000),
                    "consumed " + counted.size() + " of " + 2 * PER_ROUND);
            int epochBefore = describe(admin).groupEpoch().orElse(-1);

            System.out.println("RESTART BROKER");
            System.out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String answer = in.readLine();
            check("the broker restarted", answer != null && answer.startsWith("RESTARTED"), "answer " + answer);

            produce(PER_ROUND);
            d.start();
            int total = ROUNDS * PER_ROUND;
            check("every record consumed after the restart", consumedAtLeast(total, 180_000),
                    "consumed " + counted.size() + " of " + total);
            check("d joins after the restart and gets partitions", waitFor(90_000, () -> !d.owned.isEmpty()),
                    "d owns nothing");
            ConsumerGroupDescription three = describe(admin);
            check("describeConsumerGroups after the restart: three members", three.members().size() == 3,
                    "members " + three.members());
            int epochAfter = three.groupEpoch().orElse(-1);
            check("the group epoch survived the restart (" + epochBefore + " -> " + epochAfter + ")",
                    epochAfter > epochBefore, "before " + epochBefore + ", after " + epochAfter);

            b.stopAndJoin();
            c.stopAndJoin();
            d.stopAndJoin();
            List<String> twice = new ArrayList<>();
            counted.forEach((k, v) -> {
                if (v.get() != 1) {
                    twice.add(k + " x" + v.get());
                }
            });
            check("every record counted exactly once", twice.isEmpty() && counted.size() == total,
                    "counted " + counted.size() + " of " + total + ", more than once: "
                            + twice.subList(0, Math.min(10, twice.size())));
            check("members hit no errors", memberErrors.isEmpty(), memberErrors.toString());
            Map<TopicPartition, OffsetAndMetadata> offsets =
                    admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            long sum = offsets.values().stream().mapToLong(OffsetAndMetadata::offset).sum();
            check("committed offsets add up to every record", sum == total, "sum " + sum + " of " + total);
            check("the group is empty once every member left",
                    waitFor(30_000, () -> {
                        try {
                            return describe(admin).members().isEmpty();
                        } catch (Exception e) {
                            return false;
                        }
                    }), "members remain");
        }
    }

    @SafeVarargs
    private static boolean disjoint(Set<TopicPartition>... sets) {
        Set<TopicPartition> seen = new java.util.HashSet<>();
        for (Set<TopicPartition> s : sets) {
            for (TopicPartition tp : s) {
                if (!seen.add(tp)) {
                    return false;
                }
            }
        }
        return true;
    }

    public static void main(String[] args) {
        String level = Optional.ofNullable(System.getenv("JAVA_SUITE_LOG")).orElse("warn");
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", level);
        String bootstrap = System.getenv("KAFKA_BOOTSTRAP");
        if (bootstrap == null || bootstrap.isEmpty()) {
            System.err.println("KAFKA_BOOTSTRAP is not set");
            System.exit(2);
        }
        long seed = Long.parseLong(Optional.ofNullable(System.getenv("MILLRACE_TEST_SEED")).orElse("20260101"));
        try {
            new Kip848Suite(bootstrap, seed).run();
        } catch (Throwable t) {
            fail("kip848 suite", t.toString());
            t.printStackTrace(System.out);
        }
        System.out.printf("kip848 suite done (%d passed, %d failed)%n", passed, failed);
        System.out.flush();
        System.exit(failed == 0 ? 0 : 1);
    }
}
