package dev.millrace.cqltests;

import com.datastax.oss.driver.api.core.CqlSession;
import com.datastax.oss.driver.api.core.cql.ColumnDefinition;
import com.datastax.oss.driver.api.core.cql.PreparedStatement;
import com.datastax.oss.driver.api.core.cql.ResultSet;
import com.datastax.oss.driver.api.core.cql.Row;
import com.datastax.oss.driver.api.core.cql.SimpleStatement;
import com.datastax.oss.driver.api.core.servererrors.InvalidQueryException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * The Apache Cassandra Java driver 4.x against millrace (CQL_HOST, CQL_PORT): lightweight transactions
 * through wasApplied() and the existing row, SELECT DISTINCT, selector column names. Prints [PASS]/[FAIL]
 * per check; exits non-zero on any failure. run.py also fails it when the driver logs "Unable to determine
 * broadcast RPC port" (system.local without rpc_port).
 */
public final class JavaDriverSuite {
    private static int passed, failed;

    interface Check {
        void run() throws Exception;
    }

    static void check(String name, Check c) {
        try {
            c.run();
            passed++;
            System.out.println("[PASS] " + name);
        } catch (Throwable t) {
            failed++;
            System.out.println("[FAIL] " + name + ": " + t);
        }
        System.out.flush();
    }

    static void expect(boolean cond, String what) {
        if (!cond) throw new AssertionError(what);
    }

    public static void main(String[] args) {
        String host = System.getenv("CQL_HOST");
        int port = Integer.parseInt(System.getenv("CQL_PORT"));
        try (CqlSession s = CqlSession.builder()
                .addContactPoint(new InetSocketAddress(host, port))
                .withLocalDatacenter("datacenter1")
                .build()) {
            for (String stmt : new String[] {
                    "DROP KEYSPACE IF EXISTS jcq",
                    "CREATE KEYSPACE jcq WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}",
                    "CREATE TABLE jcq.events (p int, c int, v text, PRIMARY KEY (p, c))",
                    "CREATE TABLE jcq.kv (k text PRIMARY KEY, v int, w text)"}) {
                s.execute(SimpleStatement.newInstance(stmt).setTimeout(java.time.Duration.ofSeconds(30)));
            }
            for (int p = 1; p <= 4; p++) {
                for (int c = 0; c < 3; c++) {
                    s.execute(SimpleStatement.newInstance("INSERT INTO jcq.events (p, c, v) VALUES (?, ?, ?)", p, c, "v" + c));
                }
            }

            check("INSERT IF NOT EXISTS: wasApplied(), then refused with the existing row", () -> {
                PreparedStatement ins = s.prepare("INSERT INTO jcq.kv (k, v, w) VALUES (?, ?, ?) IF NOT EXISTS");
                ResultSet first = s.execute(ins.bind("a", 1, "one"));
                expect(first.wasApplied(), "first insert applied");
                ResultSet again = s.execute(ins.bind("a", 2, "two"));
                expect(!again.wasApplied(), "second insert refused");
                Row row = again.one();
                expect(row != null && "a".equals(row.getString("k")) && row.getInt("v") == 1 && "one".equals(row.getString("w")),
                       "existing row " + (row == null ? "none" : row.getFormattedContents()));
            });

            check("UPDATE IF v = ?: refused with v, then applied", () -> {
                ResultSet refused = s.execute(SimpleStatement.newInstance("UPDATE jcq.kv SET w = ? WHERE k = ? IF v = ?", "uno", "a", 5));
                expect(!refused.wasApplied(), "refused");
                Row row = refused.one();
                expect(row != null && row.getInt("v") == 1, "existing v " + (row == null ? "none" : row.getFormattedContents()));
                ResultSet applied = s.execute(SimpleStatement.newInstance("UPDATE jcq.kv SET w = ? WHERE k = ? IF v = ?", "uno", "a", 1));
                expect(applied.wasApplied(), "applied");
                expect("uno".equals(s.execute("SELECT w FROM jcq.kv WHERE k = 'a'").one().getString("w")), "w written");
            });

            check("SELECT DISTINCT p pages by partition", () -> {
                ResultSet rs = s.execute(SimpleStatement.newInstance("SELECT DISTINCT p FROM jcq.events").setPageSize(3));
                TreeSet<Integer> seen = new TreeSet<>();
                int rows = 0;
                for (Row r : rs) {
                    seen.add(r.getInt("p"));
                    rows++;
                }
                expect(rows == 4 && seen.size() == 4, "rows " + rows + " partitions " + seen);
            });

            check("selector column names: system.token(p), ttl(v), writetime(v), alias", () -> {
                ResultSet rs = s.execute("SELECT token(p), ttl(v), writetime(v), v AS value FROM jcq.events WHERE p = 1 AND c = 0");
                List<String> names = new ArrayList<>();
                for (ColumnDefinition d : rs.getColumnDefinitions()) names.add(d.getName().asInternal());
                expect(names.equals(List.of("system.token(p)", "ttl(v)", "writetime(v)", "value")), "columns " + names);
                Row r = rs.one();
                expect(r.getLong(0) == -4069959284402364209L && r.isNull(1) && r.getLong(2) > 0, r.getFormattedContents());
            });

            check("SELECT DISTINCT on a clustering column: Cassandra's error", () -> {
                try {
                    s.execute("SELECT DISTINCT p, c FROM jcq.events");
                    throw new AssertionError("accepted");
                } catch (InvalidQueryException e) {
                    expect(e.getMessage().contains("must only request partition key columns and/or static columns (not c)"), e.getMessage());
                }
            });
        } catch (Throwable t) {
            failed++;
            System.out.println("[FAIL] session: " + t);
        }
        System.out.println(passed + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }
}
