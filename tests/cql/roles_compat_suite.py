"""Roles, permissions and TLS against Apache Cassandra 5.0 and millrace, compared
step by step. run.py starts scripts/peers/cassandra once with --auth --tls
(PasswordAuthenticator, CassandraAuthorizer, client encryption only, auth
caches off so a GRANT is seen by the next request) and millrace with
cql.authenticator=password over TLS (--secure), both through the Python
cassandra-driver with PlainTextAuthProvider and an ssl_context trusting each
server's own CA.

On Cassandra the suite logs in as the default superuser cassandra/cassandra,
creates the admin role the same as millrace's (SUPERUSER, LOGIN, the same
password), logs in as admin and drops `cassandra`, so both sides start with one
superuser named admin. Then every step of STEPS runs on both, as the role it
names, and the outcomes must be equal: the rows (LIST ROLES / USERS /
PERMISSIONS, system_auth.*, data) or the error's code, class and message; a
login's outcome is "ok" or the AuthenticationFailed message. Every difference
is a failure naming the step and both answers. Also: a plaintext connection and
one trusting another CA are refused by both.
"""

import os
import re
import ssl
import subprocess
import tempfile
import time

from cassandra import AuthenticationFailed
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT, NoHostAvailable
from cassandra.policies import RoundRobinPolicy

from driver_suite import Suite

ADMIN, ADMIN_PASSWORD = "admin", "adm1n-pw"
MILLRACE_FLAGS = ("--set", "cql.authenticator=password", "--set", f"cql.username={ADMIN}",
                  "--set", f"cql.password={ADMIN_PASSWORD}", "--secure")
# Passed to scripts/peers/cassandra: auth caches off, so each request sees the grants made before it.
PEER_FLAGS = ("--auth", "--tls", "--heap", "768m", "--set", "roles_validity=0ms", "--set", "permissions_validity=0ms",
              "--set", "credentials_validity=0ms")

KS = "CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}"

# (who, statement) runs a statement as that role's session (one per role, logged in on first use);
# ("login", role, password) logs in and records "ok" or the refusal; ("sorted", who, statement)
# compares the rows as a set (system_auth tables have no order across nodes).
STEPS = [
    ("admin", KS),
    ("admin", "CREATE TABLE shop.orders (id int PRIMARY KEY, item text)"),
    ("admin", "CREATE TABLE shop.secrets (id int PRIMARY KEY, item text)"),
    ("admin", "INSERT INTO shop.orders (id, item) VALUES (1, 'orders-1')"),
    ("admin", "INSERT INTO shop.secrets (id, item) VALUES (1, 'secrets-1')"),
    # CREATE ROLE, its options and errors
    ("admin", "CREATE ROLE reader WITH PASSWORD = 'r3ader' AND LOGIN = true AND SUPERUSER = false"),
    ("admin", "CREATE ROLE reader"),
    ("admin", "CREATE ROLE IF NOT EXISTS reader"),
    ("admin", "CREATE ROLE analysts"),
    ("admin", "CREATE ROLE writer WITH PASSWORD = 'wr1ter' AND LOGIN = true"),
    ("admin", "CREATE ROLE boss WITH PASSWORD = 'b0ss' AND LOGIN = true AND SUPERUSER = true"),
    ("admin", "CREATE USER legacy WITH PASSWORD 'l3gacy' NOSUPERUSER"),
    # GRANT on a table, a keyspace, ALL KEYSPACES; their errors
    ("admin", "GRANT SELECT ON TABLE shop.orders TO reader"),
    ("admin", "GRANT SELECT ON KEYSPACE shop TO analysts"),
    ("admin", "GRANT MODIFY ON ALL KEYSPACES TO writer"),
    ("admin", "GRANT SELECT ON TABLE shop.nope TO reader"),
    ("admin", "GRANT SELECT ON KEYSPACE nope TO reader"),
    ("admin", "GRANT SELECT ON TABLE shop.orders TO ghost"),
    ("admin", "GRANT DESCRIBE ON KEYSPACE shop TO reader"),
    ("admin", "GRANT reader TO reader"),
    ("admin", "GRANT ghost TO reader"),
    # listings
    ("admin", "LIST ROLES"),
    ("admin", "LIST USERS"),
    ("admin", "LIST ROLES OF reader"),
    ("admin", "LIST ALL PERMISSIONS OF reader"),
    ("admin", "LIST ALL PERMISSIONS OF writer"),
    ("admin", "LIST SELECT ON shop.orders"),
    ("admin", "LIST ALL PERMISSIONS ON KEYSPACE shop"),
    ("admin", "LIST ALL PERMISSIONS OF ghost"),
    ("admin", "LIST ROLES OF ghost"),
    ("admin", "REVOKE SELECT ON TABLE shop.orders FROM ghost"),
    ("admin", "REVOKE analysts FROM writer"),
    ("sorted", "admin", "SELECT role, can_login, is_superuser, member_of FROM system_auth.roles"),
    ("sorted", "admin", "SELECT role, resource, permissions FROM system_auth.role_permissions WHERE role = 'reader'"),
    # logins
    ("login", "admin", ADMIN_PASSWORD),
    ("login", "admin", "wrong"),
    ("login", "nobody", "x"),
    ("login", "analysts", ""),
    ("login", "legacy", "l3gacy"),
    # a role with SELECT on one table
    ("reader", "SELECT id, item FROM shop.orders"),
    ("reader", "INSERT INTO shop.orders (id, item) VALUES (2, 'x')"),
    ("reader", "SELECT * FROM shop.secrets"),
    ("reader", "UPDATE shop.orders SET item = 'y' WHERE id = 1"),
    ("reader", "DELETE FROM shop.orders WHERE id = 1"),
    ("reader", "TRUNCATE shop.orders"),
    ("reader", "DROP TABLE shop.orders"),
    ("reader", "CREATE TABLE shop.x (k int PRIMARY KEY)"),
    ("reader", "DROP KEYSPACE shop"),
    ("reader", "CREATE KEYSPACE other WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}"),
    ("reader", "CREATE ROLE mallory WITH LOGIN = true"),
    ("reader", "DROP ROLE writer"),
    ("reader", "GRANT SELECT ON TABLE shop.secrets TO reader"),
    ("reader", "ALTER ROLE reader WITH SUPERUSER = true"),
    ("reader", "ALTER ROLE writer WITH PASSWORD = 'x'"),
    ("reader", "LIST ALL PERMISSIONS"),
    ("reader", "LIST ALL PERMISSIONS OF writer"),
    ("reader", "LIST ALL PERMISSIONS OF reader"),
    ("reader", "LIST ROLES"),
    ("reader", "SELECT role FROM system_auth.roles"),
    # MODIFY on ALL KEYSPACES
    ("writer", "INSERT INTO shop.secrets (id, item) VALUES (2, 'by-writer')"),
    ("writer", "SELECT * FROM shop.secrets"),
    ("writer", "TRUNCATE shop.orders"),
    ("writer", "DROP TABLE shop.secrets"),
    # a superuser created by admin
    ("boss", "SELECT id, item FROM shop.secrets"),
    ("boss", "CREATE ROLE temp WITH PASSWORD = 't3mp' AND LOGIN = true"),
    ("boss", "LIST ROLES"),
    ("boss", "DROP ROLE temp"),
    ("login", "temp", "t3mp"),
    # roles granted to roles; REVOKE
    ("admin", "GRANT analysts TO reader"),
    ("admin", "LIST ROLES OF reader"),
    ("reader", "SELECT id, item FROM shop.secrets"),
    ("sorted", "admin", "SELECT role, member FROM system_auth.role_members"),
    ("admin", "REVOKE analysts FROM reader"),
    ("reader", "SELECT id, item FROM shop.secrets"),
    ("admin", "REVOKE SELECT ON TABLE shop.orders FROM reader"),
    ("reader", "SELECT id, item FROM shop.orders"),
    ("admin", "REVOKE SELECT ON TABLE shop.orders FROM reader"),
    ("admin", "REVOKE MODIFY ON ALL KEYSPACES FROM writer"),
    ("writer", "INSERT INTO shop.secrets (id, item) VALUES (3, 'x')"),
    ("admin", "GRANT ALL PERMISSIONS ON KEYSPACE shop TO writer"),
    ("admin", "LIST ALL PERMISSIONS OF writer"),
    ("writer", "SELECT id, item FROM shop.orders"),
    # ALTER ROLE: password, LOGIN, SUPERUSER
    ("admin", "ALTER ROLE reader WITH PASSWORD = 'n3w'"),
    ("login", "reader", "r3ader"),
    ("login", "reader", "n3w"),
    ("admin", "ALTER ROLE reader WITH LOGIN = false"),
    ("login", "reader", "n3w"),
    ("admin", "ALTER ROLE analysts WITH SUPERUSER = true"),
    ("admin", "LIST ROLES"),
    ("admin", "ALTER ROLE ghost WITH LOGIN = true"),
    ("admin", "ALTER ROLE admin WITH SUPERUSER = false"),
    # DROP ROLE and what it leaves behind
    ("admin", "DROP ROLE ghost"),
    ("admin", "DROP ROLE IF EXISTS ghost"),
    ("admin", "DROP ROLE admin"),
    ("admin", "DROP ROLE writer"),
    ("login", "writer", "wr1ter"),
    ("admin", "LIST ALL PERMISSIONS"),
    ("admin", "DROP TABLE shop.secrets"),
    ("admin", "LIST ALL PERMISSIONS ON KEYSPACE shop"),
    ("admin", "LIST ROLES"),
]


# What Cassandra 5.0 has and millrace does not model, left out of Cassandra's LIST PERMISSIONS rows:
# dynamic data masking's UNMASK and SELECT_MASKED, and function resources (no UDFs in millrace; Cassandra
# grants a keyspace's creator every permission on "<all functions in ks>").
NOT_MODELLED_PERMISSIONS = {"UNMASK", "SELECT_MASKED"}
NOT_MODELLED_RESOURCE = re.compile(r"^<(all )?functions? ")


def without_unmodelled(outcome):
    if outcome[0] != "rows" or outcome[1] != ["role", "username", "resource", "permission"]:
        return outcome
    rows = [r for r in outcome[2] if r[3] not in NOT_MODELLED_PERMISSIONS and not NOT_MODELLED_RESOURCE.match(r[2])]
    return (outcome[0], outcome[1], rows)


def tls_context(ca):
    return ssl.create_default_context(cafile=ca)  # verifies the chain and the address (IP:127.0.0.1)


CONNECT_DEADLINE_S = 300.0  # a TLS handshake and a bcrypt check on 2 loaded cores can take long


def connect(host, port, ca, user, password):
    """A session, retried until CONNECT_DEADLINE_S while the failure is not an answer (a time-out on a loaded
    machine); a refused login (AuthenticationFailed) is raised at once."""
    deadline = time.monotonic() + CONNECT_DEADLINE_S
    while True:
        profile = ExecutionProfile(load_balancing_policy=RoundRobinPolicy(), request_timeout=120)
        cluster = Cluster([host], port=port, execution_profiles={EXEC_PROFILE_DEFAULT: profile}, connect_timeout=60,
                          control_connection_timeout=60, protocol_version=4,
                          auth_provider=PlainTextAuthProvider(user, password),
                          ssl_context=tls_context(ca), ssl_options={"server_hostname": host})
        try:
            return cluster, cluster.connect()
        except NoHostAvailable as e:
            cluster.shutdown()
            if any(isinstance(err, AuthenticationFailed) for err in e.errors.values()) or time.monotonic() > deadline:
                raise
        except Exception:
            cluster.shutdown()
            raise


ERROR = re.compile(r'code=(\w+) \[([^\]]*)\] message="(.*)"', re.S)


def error_outcome(e):
    """(code, class, message) of a server error, without the address a login error names."""
    text = str(e)
    if isinstance(e, NoHostAvailable) and e.errors:
        text = str(next(iter(e.errors.values())))
    m = ERROR.search(text)
    if m:
        return ("error", m.group(1), m.group(2), m.group(3))
    return ("error", type(e).__name__, re.sub(r"\d+\.\d+\.\d+\.\d+(:\d+)?", "<addr>", text))


def value(v):
    if isinstance(v, (set, frozenset)):
        return sorted(v)
    if isinstance(v, dict):
        return sorted(v.items())
    return v


class Node:
    """One side: sessions per role on one server, created on first use."""

    def __init__(self, name, host, port, ca):
        self.name, self.host, self.port, self.ca = name, host, port, ca
        self.sessions = {}
        self.passwords = {ADMIN: ADMIN_PASSWORD, "reader": "r3ader", "writer": "wr1ter", "boss": "b0ss"}
        self.clusters = []

    def session(self, role):
        if role not in self.sessions:
            cluster, s = connect(self.host, self.port, self.ca, role, self.passwords[role])
            self.clusters.append(cluster)
            self.sessions[role] = s
        return self.sessions[role]

    def run(self, step):
        if step[0] == "login":
            _, role, password = step
            try:
                cluster, _ = connect(self.host, self.port, self.ca, role, password)
            except Exception as e:
                return error_outcome(e)
            cluster.shutdown()
            return ("ok",)
        unordered = step[0] == "sorted"
        who, statement = step[1:] if unordered else step
        # Cassandra 5 refuses a role's password change within 5 s of the last one ("can only be
        # changed every 5000ms"); on a fast run the role's CREATE is that recent. Asked again, as a
        # client would, until accepted (at most 30 s): the outcome compared is the change's own.
        deadline = time.monotonic() + 30
        while True:
            try:
                result = self.session(who).execute(statement)
                break
            except Exception as e:
                if "can only be changed every" not in str(e) or time.monotonic() > deadline:
                    return error_outcome(e)
                time.sleep(0.5)
        rows = [tuple(value(v) for v in r) for r in result]
        columns = list(result.column_names or [])
        return ("rows", columns, sorted(rows, key=repr) if unordered else rows)

    def close(self):
        for c in self.clusters:
            c.shutdown()


def refused_without_tls(host, port, other_ca):
    """(plaintext refused, another CA refused) for one server."""
    out = []
    for kwargs in ({}, {"ssl_context": tls_context(other_ca), "ssl_options": {"server_hostname": host}}):
        cluster = Cluster([host], port=port, connect_timeout=30, protocol_version=4,
                          auth_provider=PlainTextAuthProvider(ADMIN, ADMIN_PASSWORD), **kwargs)
        try:
            cluster.connect()
            out.append(False)
        except NoHostAvailable:
            out.append(True)
        finally:
            cluster.shutdown()
    return tuple(out)


def run_all(start, cassandra, cassandra_ca):
    suite = Suite()
    root = tempfile.mkdtemp(prefix="cql-roles-compat-")
    server = start("roles", MILLRACE_FLAGS + ("--set", f"data_dir={root}"))
    our_ca = os.path.join(root, "tls", "ca.pem")
    host, port = cassandra.rsplit(":", 1)
    port = int(port)

    def bootstrap_admin():
        cluster, s = connect(host, port, cassandra_ca, "cassandra", "cassandra")
        try:
            s.execute(f"CREATE ROLE {ADMIN} WITH PASSWORD = '{ADMIN_PASSWORD}' AND LOGIN = true AND SUPERUSER = true")
        finally:
            cluster.shutdown()
        cluster, s = connect(host, port, cassandra_ca, ADMIN, ADMIN_PASSWORD)
        try:
            s.execute("DROP ROLE cassandra")
        finally:
            cluster.shutdown()
    suite.check("Cassandra: admin created through the default superuser, which is then dropped", bootstrap_admin)

    ref = Node("Cassandra", host, port, cassandra_ca)
    ours = Node("millrace", server.host, server.port, our_ca)
    try:
        for i, step in enumerate(STEPS):
            def same(step=step):
                want, got = without_unmodelled(ref.run(step)), ours.run(step)
                assert want == got, f"\n  Cassandra: {want!r}\n  millrace:  {got!r}"
            suite.check(f"same outcome #{i}: {' '.join(str(p) for p in step)}", same)

        def tls_only():
            other = tempfile.mkdtemp(prefix="cql-roles-other-ca-")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                            "-keyout", os.path.join(other, "k.pem"), "-out", os.path.join(other, "ca.pem"), "-days", "1",
                            "-subj", "/CN=another CA"], check=True, capture_output=True)
            other_ca = os.path.join(other, "ca.pem")
            want = refused_without_tls(host, port, other_ca)
            got = refused_without_tls(server.host, server.port, other_ca)
            assert want == (True, True), f"Cassandra (plaintext refused, other CA refused): {want}"
            assert got == want, f"millrace (plaintext refused, other CA refused): {got}"
        suite.check("both refuse a plaintext client and one trusting another CA", tls_only)
    finally:
        ref.close()
        ours.close()
    print(f"{suite.passed} passed, {suite.failed} failed", flush=True)
    return suite.failed
