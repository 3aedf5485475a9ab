package dev.kafmesh.bench;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.GlobalKTable;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;

/**
 * The Kafka Streams contender of kafmesh's peer benchmarks (bench/).
 *
 * <p>Modes (--mode):
 * <ul>
 *   <li>count: count-by-key with the DSL (groupByKey().count() in a RocksDB store named "counts",
 *       changelog "&lt;app&gt;-counts-changelog"); every input emits its key's new count as a
 *       protobuf google.protobuf.Int64Value, the same bytes the Go contenders write.</li>
 *   <li>enrich: the input joined with a co-partitioned KTable (--join) and a GlobalKTable lookup
 *       (--lookup) keyed by the joined value; emits google.protobuf.StringValue
 *       "&lt;joined&gt;|&lt;looked up&gt;".</li>
 * </ul>
 *
 * <p>It prints "first-read &lt;unix nanos&gt;" on stdout when the first input record reaches the
 * topology, and "running" when the instance reaches RUNNING. It stops cleanly on SIGTERM.
 */
public final class StreamsBench {
    private static final AtomicBoolean firstSeen = new AtomicBoolean();

    public static void main(String[] args) throws Exception {
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
        Map<String, String> a = parse(args);
        String mode = need(a, "mode");

        StreamsBuilder b = new StreamsBuilder();
        KStream<String, byte[]> in = b.stream(need(a, "input"), Consumed.with(Serdes.String(), Serdes.ByteArray()))
                .peek((k, v) -> firstRead());
        switch (mode) {
            case "count" -> in.groupByKey()
                    .count(Materialized.as("counts"))
                    .toStream()
                    .mapValues(StreamsBench::encodeInt64Value)
                    .to(need(a, "output"), Produced.with(Serdes.String(), Serdes.ByteArray()));
            case "enrich" -> {
                KTable<String, byte[]> joined = b.table(need(a, "join"), Consumed.with(Serdes.String(), Serdes.ByteArray()));
                GlobalKTable<String, byte[]> lookup = b.globalTable(need(a, "lookup"), Consumed.with(Serdes.String(), Serdes.ByteArray()));
                in.join(joined, (event, j) -> decodeStringValue(j))
                        .join(lookup, (key, j) -> j, (j, l) -> encodeStringValue(j + "|" + decodeStringValue(l)))
                        .to(need(a, "output"), Produced.with(Serdes.String(), Serdes.ByteArray()));
            }
            default -> throw new IllegalArgumentException("--mode must be count or enrich, not " + mode);
        }

        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, need(a, "group"));
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, need(a, "brokers"));
        p.put(StreamsConfig.STATE_DIR_CONFIG, need(a, "state-dir"));
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, a.getOrDefault("threads", String.valueOf(Runtime.getRuntime().availableProcessors())));
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, a.getOrDefault("commit-ms", "100"));
        // Every input emits its new count, as in the other contenders: no
        // record cache folding updates of one key together.
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0);
        // The KTable of the join reads its source topic as its changelog
        // instead of copying it into a new one (what kafmesh and goka do).
        p.put(StreamsConfig.TOPOLOGY_OPTIMIZATION_CONFIG, StreamsConfig.OPTIMIZE);
        p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        p.put(StreamsConfig.producerPrefix(ProducerConfig.ACKS_CONFIG), "all");
        p.put(StreamsConfig.producerPrefix(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG), true);
        p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), a.getOrDefault("linger-ms", "5"));
        p.put(StreamsConfig.producerPrefix(ProducerConfig.BATCH_SIZE_CONFIG), a.getOrDefault("batch-bytes", "1048576"));
        p.put(StreamsConfig.producerPrefix(ProducerConfig.COMPRESSION_TYPE_CONFIG), "none");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        p.put(StreamsConfig.consumerPrefix(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG), a.getOrDefault("fetch-max-wait-ms", "500"));

        // Experiments: STREAMS_BENCH_PROPS="key=value,key=value" overrides
        // any of the above (results with overrides are not the matched run).
        String extra = System.getenv("STREAMS_BENCH_PROPS");
        if (extra != null && !extra.isBlank()) {
            for (String kv : extra.split(",")) {
                int eq = kv.indexOf('=');
                if (eq <= 0) {
                    throw new IllegalArgumentException("STREAMS_BENCH_PROPS: " + kv + " is not key=value");
                }
                p.put(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
            }
            System.err.println("streams-bench: overrides " + extra);
        }

        KafkaStreams streams = new KafkaStreams(b.build(p), p);
        CountDownLatch done = new CountDownLatch(1);
        streams.setStateListener((now, before) -> {
            if (now == KafkaStreams.State.RUNNING) {
                say("running");
            }
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
                done.countDown();
            }
        });
        streams.setUncaughtExceptionHandler(e -> {
            System.err.println("streams-bench: " + e);
            e.printStackTrace();
            return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            streams.close(Duration.ofSeconds(30));
            done.countDown();
        }));
        streams.start();
        done.await();
        if (streams.state() == KafkaStreams.State.ERROR) {
            System.exit(1);
        }
    }

    private static void firstRead() {
        if (!firstSeen.get() && firstSeen.compareAndSet(false, true)) {
            Instant now = Instant.now();
            say("first-read " + (now.getEpochSecond() * 1_000_000_000L + now.getNano()));
        }
    }

    private static synchronized void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    /** google.protobuf.Int64Value{value: n}: field 1, varint. */
    static byte[] encodeInt64Value(Long n) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(11);
        if (n != 0) {
            out.write(0x08);
            writeVarint(out, n);
        }
        return out.toByteArray();
    }

    /** google.protobuf.StringValue{value: s}: field 1, length-delimited. */
    static byte[] encodeStringValue(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream(b.length + 6);
        if (b.length > 0) {
            out.write(0x0a);
            writeVarint(out, b.length);
            out.write(b, 0, b.length);
        }
        return out.toByteArray();
    }

    /** Reads field 1 of a google.protobuf.StringValue, skipping other fields. */
    static String decodeStringValue(byte[] b) {
        if (b == null) {
            return "";
        }
        int[] pos = {0};
        String value = "";
        while (pos[0] < b.length) {
            long tag = readVarint(b, pos);
            int wire = (int) (tag & 7);
            switch (wire) {
                case 0 -> readVarint(b, pos);
                case 1 -> pos[0] += 8;
                case 5 -> pos[0] += 4;
                case 2 -> {
                    int len = (int) readVarint(b, pos);
                    if (tag >>> 3 == 1) {
                        value = new String(b, pos[0], len, StandardCharsets.UTF_8);
                    }
                    pos[0] += len;
                }
                default -> throw new IllegalArgumentException("not a StringValue: wire type " + wire);
            }
        }
        return value;
    }

    private static void writeVarint(ByteArrayOutputStream out, long v) {
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }

    private static long readVarint(byte[] b, int[] pos) {
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            byte x = b[pos[0]++];
            v |= (long) (x & 0x7F) << shift;
            if ((x & 0x80) == 0) {
                return v;
            }
        }
        throw new IllegalArgumentException("varint too long");
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String k = args[i];
            if (!k.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument " + k);
            }
            int eq = k.indexOf('=');
            if (eq > 0) {
                m.put(k.substring(2, eq), k.substring(eq + 1));
            } else if (i + 1 < args.length) {
                m.put(k.substring(2), args[++i]);
            } else {
                throw new IllegalArgumentException(k + " needs a value");
            }
        }
        return m;
    }

    private static String need(Map<String, String> a, String k) {
        String v = a.get(k);
        if (v == null || v.isEmpty()) {
            throw new IllegalArgumentException("--" + k + " is required");
        }
        return v;
    }

    private StreamsBench() {}
}
