"""Roles and permissions through real clients: the Python cassandra-driver
(PlainTextAuthProvider, ssl_context) and cqlsh (-u/-p, --ssl) against a server with
cql.authenticator=password and cql.username=admin (the superuser created at
startup), over TLS (--secure, the CA it generates; plaintext and another CA refused). The admin logs in, a wrong password is refused (AuthenticationFailed),
a LOGIN role granted SELECT on one table reads it and is refused MODIFY on it
and SELECT on another (Unauthorized, Cassandra's message), LIST ROLES / LIST
ALL PERMISSIONS answer, system_auth.roles is readable, roles granted to roles
pass their permissions on, and a restart keeps roles and grants.
run_all(start, libs) gets run.py's server starter and the pip target holding
cqlsh. Each check prints [PASS] or [FAIL] <name>: <reason>."""

import os
import re
import ssl
import subprocess
import sys
import tempfile

from cassandra import AuthenticationFailed, InvalidRequest, Unauthorized
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT, NoHostAvailable
from cassandra.policies import RoundRobinPolicy
from cassandra.protocol import SyntaxException
from cassandra.query import BatchStatement

from driver_suite import Suite

ADMIN, ADMIN_PASSWORD = "admin", "adm1n-pw"
FLAGS = ("--set", "cql.authenticator=password", "--set", f"cql.username={ADMIN}", "--set", f"cql.password={ADMIN_PASSWORD}")
KEYSPACE = "CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}"


def tls_options(server):
    """The driver's TLS arguments for a server started with TLS (`server.ca` set), else none."""
    ca = getattr(server, "ca", None)
    if ca is None:
        return {}
    context = ssl.create_default_context(cafile=ca)  # verifies the chain and the address (IP:127.0.0.1)
    return {"ssl_context": context, "ssl_options": {"server_hostname": server.host}}


def login(server, user, password):
    profile = ExecutionProfile(load_balancing_policy=RoundRobinPolicy(), request_timeout=30)
    cluster = Cluster([server.host], port=server.port, execution_profiles={EXEC_PROFILE_DEFAULT: profile},
                      connect_timeout=10, auth_provider=PlainTextAuthProvider(user, password), **tls_options(server))
    try:
        return cluster, cluster.connect()
    except Exception:
        cluster.shutdown()
        raise


def refused_login(server, user, password):
    """The AuthenticationFailed a login gets."""
    try:
        cluster, _ = login(server, user, password)
    except NoHostAvailable as e:
        (err,) = e.errors.values()
        assert isinstance(err, AuthenticationFailed), repr(err)
        return str(err)
    cluster.shutdown()
    raise AssertionError(f"{user} logged in with password {password!r}")


def unauthorized(session, statement, params=None):
    try:
        session.execute(statement, params)
    except Unauthorized as e:
        return str(e)
    raise AssertionError(f"{statement!r} was not refused")


class Cqlsh:
    def __init__(self, libs, home):
        self.libs, self.home = libs, home

    def run(self, server, statements, user, password):
        cmd = [sys.executable, "-m", "cqlshlib", server.host, str(server.port), "--connect-timeout", "30",
               "--request-timeout", "60", "-u", user, "-p", password, "-e", statements]
        env = dict(os.environ, PYTHONPATH=self.libs, HOME=self.home, CQLSH_NO_BUNDLED="1")
        if getattr(server, "ca", None) is not None:  # over TLS: cqlsh --ssl verifying the server's CA
            cmd.insert(cmd.index("-e"), "--ssl")
            env["SSL_CERTFILE"] = server.ca
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=90)
        proc.stdout = re.sub(r"^WARNING: cqlsh was built against .*\n", "", proc.stdout, flags=re.M)
        return proc


def run_all(start, libs):
    suite = Suite()
    # Over TLS (--secure): the CA is generated into <data_dir>/tls at the first start.
    root = tempfile.mkdtemp(prefix="cql-roles-tls-")
    flags = FLAGS + ("--secure", "--set", f"data_dir={root}")

    def start_tls():
        started = start("auth", flags)
        started.ca = os.path.join(root, "tls", "ca.pem")
        return started

    server = start_tls()
    admin_cluster, admin = login(server, ADMIN, ADMIN_PASSWORD)
    clusters = [admin_cluster]
    sh = Cqlsh(libs, tempfile.mkdtemp(prefix="cqlsh-home-"))

    def admin_login():
        assert admin.execute("SELECT key FROM system.local").one().key == "local"
        message = refused_login(server, ADMIN, "wrong")
        assert "Provided username admin and/or password are incorrect" in message, message
        message = refused_login(server, "nobody", ADMIN_PASSWORD)
        assert "Provided username nobody and/or password are incorrect" in message, message
    suite.check("admin logs in; wrong password and unknown role refused (AuthenticationFailed)", admin_login)

    def plaintext_and_untrusted_refused():
        plain = Cluster([server.host], port=server.port, connect_timeout=10, protocol_version=4,
                        auth_provider=PlainTextAuthProvider(ADMIN, ADMIN_PASSWORD))
        try:
            plain.connect()
            raise AssertionError("a plaintext driver connected to the TLS listener")
        except NoHostAvailable:
            pass
        finally:
            plain.shutdown()
        other = tempfile.mkdtemp(prefix="cql-roles-other-ca-")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", os.path.join(other, "k.pem"), "-out", os.path.join(other, "ca.pem"), "-days", "1",
                        "-subj", "/CN=another CA"], check=True, capture_output=True)
        context = ssl.create_default_context(cafile=os.path.join(other, "ca.pem"))
        untrusting = Cluster([server.host], port=server.port, connect_timeout=10, protocol_version=4, ssl_context=context,
                             ssl_options={"server_hostname": server.host},
                             auth_provider=PlainTextAuthProvider(ADMIN, ADMIN_PASSWORD))
        try:
            untrusting.connect()
            raise AssertionError("a driver trusting another CA connected")
        except NoHostAvailable as e:
            assert "CERTIFICATE_VERIFY_FAILED" in str(e) or "certificate verify failed" in str(e), str(e)
        finally:
            untrusting.shutdown()
    suite.check("over TLS only: a plaintext driver and one trusting another CA are refused", plaintext_and_untrusted_refused)

    def setup_roles():
        admin.execute(KEYSPACE)
        for table in ("orders", "secrets"):
            admin.execute(f"CREATE TABLE shop.{table} (id int PRIMARY KEY, item text)")
            admin.execute(f"INSERT INTO shop.{table} (id, item) VALUES (1, '{table}-1')")
        admin.execute("CREATE ROLE reader WITH PASSWORD = 'r3ader' AND LOGIN = true AND SUPERUSER = false")
        admin.execute("GRANT SELECT ON TABLE shop.orders TO reader")
        admin.execute("CREATE ROLE analysts")  # no LOGIN
        admin.execute("GRANT SELECT ON KEYSPACE shop TO analysts")
        try:
            admin.execute("CREATE ROLE reader")
            raise AssertionError("a second CREATE ROLE reader succeeded")
        except InvalidRequest as e:
            assert "reader already exists" in str(e), e
        admin.execute("CREATE ROLE IF NOT EXISTS reader")
    suite.check("admin creates roles and grants", setup_roles)

    def reader_permissions():
        c, reader = login(server, "reader", "r3ader")
        clusters.append(c)
        assert [tuple(r) for r in reader.execute("SELECT id, item FROM shop.orders")] == [(1, "orders-1")]
        m = unauthorized(reader, "INSERT INTO shop.orders (id, item) VALUES (2, 'x')")
        assert "User reader has no MODIFY permission on <table shop.orders> or any of its parents" in m, m
        m = unauthorized(reader, "SELECT * FROM shop.secrets")
        assert "User reader has no SELECT permission on <table shop.secrets> or any of its parents" in m, m
        # Prepared statements are checked when executed; batches for each table.
        prepared = reader.prepare("SELECT * FROM shop.secrets WHERE id = ?")
        m = unauthorized(reader, prepared, (1,))
        assert "no SELECT permission on <table shop.secrets>" in m, m
        batch = BatchStatement()
        batch.add("INSERT INTO shop.orders (id, item) VALUES (3, 'y')")
        m = unauthorized(reader, batch)
        assert "no MODIFY permission on <table shop.orders>" in m, m
        for ddl, what in (("DROP TABLE shop.orders", "DROP permission on <table shop.orders>"),
                          ("CREATE TABLE shop.x (k int PRIMARY KEY)", "CREATE permission on <all tables in shop>"),
                          ("TRUNCATE shop.orders", "MODIFY permission on <table shop.orders>"),
                          ("CREATE ROLE mallory WITH LOGIN = true", "User reader does not have sufficient privileges"),
                          ("GRANT SELECT ON TABLE shop.secrets TO reader", "AUTHORIZE permission on <table shop.secrets>"),
                          ("LIST ALL PERMISSIONS", "You are not authorized to view everyone's permissions"),
                          ("ALTER ROLE reader WITH SUPERUSER = true", "superuser status")):
            m = unauthorized(reader, ddl)
            assert what in m, (ddl, m)
        assert [tuple(r) for r in admin.execute("SELECT id FROM shop.orders")] == [(1,)]  # nothing was written
        # The reader sees its own permissions and roles.
        rows = [tuple(r) for r in reader.execute("LIST ALL PERMISSIONS OF reader")]
        assert rows == [("reader", "reader", "<table shop.orders>", "SELECT")], rows
        assert [r.role for r in reader.execute("LIST ROLES")] == ["reader"]
    suite.check("a role with SELECT on one table reads it, is refused MODIFY and other tables (Unauthorized)",
                reader_permissions)

    def listings():
        rows = list(admin.execute("LIST ROLES"))
        assert rows[0]._fields == ("role", "super", "login", "options", "datacenters"), rows[0]._fields
        got = {r.role: (r.super, r.login) for r in rows}
        assert got == {"admin": (True, True), "analysts": (False, False), "reader": (False, True)}, got
        users = {r.name: r.super for r in admin.execute("LIST USERS")}
        assert users == {"admin": True, "reader": False}, users
        perms = [tuple(r) for r in admin.execute("LIST ALL PERMISSIONS")]
        assert ("reader", "reader", "<table shop.orders>", "SELECT") in perms, perms
        assert ("analysts", "analysts", "<keyspace shop>", "SELECT") in perms, perms
        # The creator of a keyspace gets every permission on it, as in Cassandra.
        assert ("admin", "admin", "<keyspace shop>", "CREATE") in perms, perms
        assert ("admin", "admin", "<table shop.secrets>", "MODIFY") in perms, perms
        on_table = {(r.role, r.resource) for r in admin.execute("LIST SELECT ON shop.orders")}
        assert ("reader", "<table shop.orders>") in on_table and ("analysts", "<keyspace shop>") in on_table, on_table
    suite.check("LIST ROLES, LIST USERS, LIST ALL PERMISSIONS, LIST ... ON", listings)

    def system_auth_tables():
        rows = {r.role: r for r in admin.execute("SELECT * FROM system_auth.roles")}
        assert set(rows) == {"admin", "analysts", "reader"}, rows
        assert rows["admin"].is_superuser and rows["admin"].can_login
        assert rows["reader"].salted_hash.startswith("$2a$10$") and len(rows["reader"].salted_hash) == 60
        assert rows["analysts"].salted_hash is None
        perms = {(r.role, r.resource): set(r.permissions) for r in admin.execute("SELECT * FROM system_auth.role_permissions")}
        assert perms[("reader", "data/shop/orders")] == {"SELECT"}, perms
        one = admin.execute("SELECT role, can_login FROM system_auth.roles WHERE role = 'reader'").one()
        assert one.role == "reader" and one.can_login
        m = unauthorized(login(server, "reader", "r3ader")[1], "SELECT * FROM system_auth.roles")
        assert "no SELECT permission on <table system_auth.roles>" in m, m
    suite.check("system_auth.roles and role_permissions readable from the driver", system_auth_tables)

    def role_inheritance():
        c, reader = login(server, "reader", "r3ader")
        clusters.append(c)
        unauthorized(reader, "SELECT * FROM shop.secrets")
        admin.execute("GRANT analysts TO reader")
        assert reader.execute("SELECT item FROM shop.secrets").one().item == "secrets-1"
        members = [tuple(r) for r in admin.execute("SELECT * FROM system_auth.role_members")]
        assert members == [("analysts", "reader")], members
        assert {r.role for r in admin.execute("LIST ROLES OF reader")} == {"reader", "analysts"}
        admin.execute("REVOKE analysts FROM reader")
        unauthorized(reader, "SELECT * FROM shop.secrets")
        message = refused_login(server, "analysts", "")
        assert "Password must not be null" in message, message  # Cassandra's answer to an empty password
        message = refused_login(server, "analysts", "any")
        assert "Provided username analysts and/or password are incorrect" in message, message
        admin.execute("GRANT MODIFY ON KEYSPACE shop TO reader")
        reader.execute("INSERT INTO shop.orders (id, item) VALUES (2, 'by-reader')")
        admin.execute("REVOKE MODIFY ON KEYSPACE shop FROM reader")
        unauthorized(reader, "INSERT INTO shop.orders (id, item) VALUES (3, 'x')")
    suite.check("GRANT role TO role passes permissions on; REVOKE takes them back", role_inheritance)

    def errors():
        for statement, text in (("GRANT SELECT ON TABLE shop.nope TO reader", "<table shop.nope> doesn't exist"),
                                ("GRANT SELECT ON TABLE shop.orders TO ghost", "ghost doesn't exist"),
                                ("DROP ROLE ghost", "ghost doesn't exist"),
                                ("DROP ROLE admin", "Cannot DROP primary role for current login"),
                                ("GRANT reader TO reader", "reader is a member of reader")):
            try:
                admin.execute(statement)
                raise AssertionError(f"{statement} succeeded")
            except InvalidRequest as e:
                assert text in str(e), (statement, str(e))
        admin.execute("DROP ROLE IF EXISTS ghost")
        try:  # Cassandra reports a permission the resource does not have as a syntax error
            admin.execute("GRANT DESCRIBE ON KEYSPACE shop TO reader")
            raise AssertionError("GRANT DESCRIBE ON KEYSPACE succeeded")
        except SyntaxException as e:
            assert "Resource type DataResource does not support any of the requested permissions" in str(e), e
    suite.check("role statements' errors", errors)

    def cqlsh_outputs():
        out = sh.run(server, "LIST ROLES; LIST ALL PERMISSIONS OF reader;", ADMIN, ADMIN_PASSWORD)
        assert out.returncode == 0, out.stderr
        assert re.search(r"role\s+\|\s+super\s+\|\s+login\s+\|\s+options\s+\|\s+datacenters", out.stdout), out.stdout
        assert re.search(r"reader\s+\|\s+False\s+\|\s+True", out.stdout), out.stdout
        assert re.search(r"reader\s+\|\s+reader\s+\|\s+<table shop.orders>\s+\|\s+SELECT", out.stdout), out.stdout
        ok = sh.run(server, "SELECT item FROM shop.orders WHERE id = 1;", "reader", "r3ader")
        assert ok.returncode == 0 and "orders-1" in ok.stdout, (ok.stdout, ok.stderr)
        bad = sh.run(server, "SELECT * FROM shop.secrets;", "reader", "r3ader")
        assert bad.returncode != 0 and "Unauthorized" in bad.stderr, bad.stderr
        assert "User reader has no SELECT permission on <table shop.secrets> or any of its parents" in bad.stderr, bad.stderr
        wrong = sh.run(server, "SELECT * FROM shop.orders;", "reader", "nope")
        assert wrong.returncode != 0 and "Provided username reader and/or password are incorrect" in wrong.stderr, wrong.stderr
    suite.check("cqlsh -u/-p: LIST output, a permitted read, Unauthorized, a wrong password", cqlsh_outputs)

    def restart_keeps_roles_and_grants():
        nonlocal server, admin
        for c in clusters:
            c.shutdown()
        clusters.clear()
        code = server.stop()
        assert code == 0, f"server exited {code}"
        server = start_tls()
        c, admin = login(server, ADMIN, ADMIN_PASSWORD)
        clusters.append(c)
        c, reader = login(server, "reader", "r3ader")
        clusters.append(c)
        assert reader.execute("SELECT item FROM shop.orders WHERE id = 1").one().item == "orders-1"
        unauthorized(reader, "SELECT * FROM shop.secrets")
        unauthorized(reader, "INSERT INTO shop.orders (id, item) VALUES (9, 'x')")
        assert {r.role for r in admin.execute("LIST ROLES")} == {"admin", "analysts", "reader"}
        # Password changes, DROP TABLE's grant cleanup and DROP ROLE also persist.
        admin.execute("ALTER ROLE reader WITH PASSWORD = 'n3w'")
        admin.execute("DROP TABLE shop.orders")
        admin.execute("CREATE ROLE temp WITH PASSWORD = 't' AND LOGIN = true")
        admin.execute("DROP ROLE temp")
        for c in clusters:
            c.shutdown()
        clusters.clear()
        assert server.stop() == 0
        server = start_tls()
        c, admin = login(server, ADMIN, ADMIN_PASSWORD)
        clusters.append(c)
        refused_login(server, "reader", "r3ader")
        refused_login(server, "temp", "t")
        c, reader = login(server, "reader", "n3w")
        clusters.append(c)
        perms = [tuple(r) for r in admin.execute("LIST ALL PERMISSIONS")]
        assert not any("shop.orders" in p[2] for p in perms), perms
    suite.check("a restart keeps roles, grants, new passwords and drops", restart_keeps_roles_and_grants)

    def statements_need_authentication():
        plain = start("plain")
        cluster = Cluster([plain.host], port=plain.port, connect_timeout=10, load_balancing_policy=RoundRobinPolicy())
        try:
            session = cluster.connect()
            try:
                session.execute("CREATE ROLE x")
                raise AssertionError("CREATE ROLE worked without authentication")
            except InvalidRequest as e:
                assert "need authentication" in str(e), e
            try:
                session.execute("SELECT * FROM system_auth.roles")
                raise AssertionError("system_auth.roles exists without authentication")
            except InvalidRequest as e:
                assert "unconfigured table roles" in str(e), e
        finally:
            cluster.shutdown()
    suite.check("without authentication: role statements refused, no system_auth", statements_need_authentication)

    for c in clusters:
        c.shutdown()
    print(f"{suite.passed} passed, {suite.failed} failed", flush=True)
    return suite.failed
