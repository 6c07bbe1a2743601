"""What the security suites share: loading a sibling suite's module, recording
checks, and polling until a condition holds (readiness, never fixed sleeps)."""
import importlib.util
import time

failures = []


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def wait_for(what, timeout_s, probe, interval_s=0.25):
    """Polls `probe` until it returns a truthy value; fails naming `what` and the last value."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            last = probe()
            if last:
                return last
        except Exception as e:  # a service still starting
            last = f"{type(e).__name__}: {e}"
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what} (last: {last})")
