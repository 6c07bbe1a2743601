"""Small helpers shared by the Python suites (kcat, restart).

Every suite prints one line per check, "[PASS] name", "[FAIL] name: why" or
"[SKIP] name: why"; run.py counts those lines.
"""

import hashlib
import os
import random
import sys
import time
import zlib

DEFAULT_SEED = 20260101
HERE = os.path.dirname(os.path.abspath(__file__))


def pylibs_dir():
    """Where setup.sh installs requirements.txt (pip --target), keyed by the file's content,
    so the suites find kafka-python whichever python3 runs them."""
    with open(os.path.join(HERE, "requirements.txt"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "millrace", f"pylibs-{digest}")


if os.path.isdir(pylibs_dir()) and pylibs_dir() not in sys.path:
    sys.path.insert(0, pylibs_dir())


class Reporter:
    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def _emit(self, line):
        self.out.write(line + "\n")
        self.out.flush()

    def ok(self, name):
        self.passed += 1
        self._emit(f"[PASS] {name}")

    def fail(self, name, why):
        self.failed += 1
        self._emit(f"[FAIL] {name}: {why}")

    def skip(self, name, why):
        self.skipped += 1
        self._emit(f"[SKIP] {name}: {why}")

    def check(self, name, cond, why=""):
        if cond:
            self.ok(name)
        else:
            self.fail(name, why or "check failed")
        return bool(cond)

    def check_eq(self, name, actual, expected):
        return self.check(name, actual == expected, f"expected {expected!r}, got {actual!r}")

    def summary(self, suite, seconds):
        self._emit(f"{suite} suite done in {seconds:.1f} s "
                   f"({self.passed} passed, {self.failed} failed, {self.skipped} skipped)")


def seed():
    return int(os.environ.get("MILLRACE_TEST_SEED", DEFAULT_SEED))


def rng(salt=""):
    """A random.Random seeded from MILLRACE_TEST_SEED (and a per-use salt)."""
    return random.Random(f"{seed()}:{salt}")


def suffix():
    """Topic/group name suffix: seed-derived, plus the pid so that reruns against
    the same long-running broker do not collide."""
    return f"{seed():x}-{os.getpid()}"


def bootstrap():
    b = os.environ.get("KAFKA_BOOTSTRAP", "")
    if not b:
        raise SystemExit("KAFKA_BOOTSTRAP is not set")
    return b


def wait_for(what, timeout_s, cond, interval_s=0.05):
    """Polls cond() until it returns something truthy; raises TimeoutError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


def librdkafka_partition(key: bytes, partitions: int) -> int:
    """Where librdkafka's default consistent_random partitioner puts a keyed record."""
    return zlib.crc32(key) % partitions


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (Java client / kafka-python default partitioner for keyed records)."""
    length = len(data)
    seed_ = 0x9747B28C
    m = 0x5BD1E995
    r = 24
    h = (seed_ ^ length) & 0xFFFFFFFF
    nblocks = length // 4
    for i in range(nblocks):
        k = int.from_bytes(data[i * 4:i * 4 + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = length & 3
    base = nblocks * 4
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def java_partition(key: bytes, partitions: int) -> int:
    """Where the Java client's (and kafka-python's) default partitioner puts a keyed record."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
