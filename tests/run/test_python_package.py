#!/usr/bin/python3
"""The chase Python package on its own (no torch, no chase binary): a socket stands in for chase.

Checks what training code relies on: reports arrive in the documented format with cumulative totals, batching sends
at most one datagram per interval, flush and exit send the rest, nothing raises or blocks when chase is absent, gone
or busy, ranks come from RANK, a forked child reports as itself, and the callbacks import without their libraries.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ.get("CHASE_SOURCE_DIR", os.path.dirname(__file__) + "/../.."), "python"))

import chase  # noqa: E402
import chase.hf  # noqa: E402
import chase.lightning  # noqa: E402

failures = 0


def check(cond, msg):
    global failures
    if not cond:
        failures += 1
        print("FAIL: " + msg)


class FakeChase:
    """A datagram socket like chase's, collecting and parsing what arrives."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="chase-py-")
        self.path = os.path.join(self.dir, "progress.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.address = "unix:" + self.path

    def messages(self, wait=0.05):
        time.sleep(wait)
        out = []
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                return out
            text = data.decode("ascii")
            check(text.endswith("\n") and text.startswith("chase1 "), "bad framing: %r" % text)
            fields = dict(tok.split("=", 1) for tok in text.split()[1:])
            out.append({k: int(v) for k, v in fields.items()})

    def close(self):
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


def test_reports_and_batching():
    fc = FakeChase()
    r = chase.Reporter(address=fc.address, rank=3, interval=0)
    check(r.enabled, "reporter not connected")
    for _ in range(5):
        r.step(32)
    msgs = fc.messages()
    check(len(msgs) == 5, "interval 0 sends every step: got %d" % len(msgs))
    check(msgs[-1] == {"step": 5, "samples": 160, "rank": 3, "pid": os.getpid()}, "last message %s" % msgs[-1:])
    check([m["step"] for m in msgs] == [1, 2, 3, 4, 5], "counts are cumulative")

    r = chase.Reporter(address=fc.address, rank=0, interval=60)
    for _ in range(1000):
        r.step()
    msgs = fc.messages()
    check(len(msgs) == 1 and msgs[0]["step"] == 1, "batching: one datagram for the first step, got %s" % msgs)
    r.flush()
    msgs = fc.messages()
    check(len(msgs) == 1 and msgs[0]["step"] == 1000 and msgs[0]["samples"] == 0, "flush sends totals: %s" % msgs)
    r.flush()
    check(fc.messages() == [], "a flush with nothing new sends nothing")
    r.close()
    r.step()  # after close: counted only, no error
    check(r.steps == 1001, "steps after close still counted")

    r = chase.Reporter(address=fc.address, rank=1, interval=0.05)
    r.step()
    r.step()
    time.sleep(0.08)
    r.step()
    msgs = fc.messages()
    check([m["step"] for m in msgs] == [1, 3], "interval lets a later step through: %s" % msgs)
    fc.close()


def test_odd_samples_never_raise():
    fc = FakeChase()
    r = chase.Reporter(address=fc.address, rank=0, interval=0)
    r.step("not a number")
    r.step(object())
    r.step(7.9)  # int() truncates
    msgs = fc.messages()
    check(msgs[-1]["samples"] == 7 and msgs[-1]["step"] == 3, "odd sample counts: %s" % msgs[-1:])
    fc.close()


def test_absent_and_gone():
    r = chase.Reporter(address="")
    check(not r.enabled, "no address: disabled")
    r.step(1)
    r.flush()
    r = chase.Reporter(address="tcp://nope")
    check(not r.enabled, "bad scheme: disabled")
    r = chase.Reporter(address="unix:/nonexistent/dir/sock")
    check(not r.enabled, "nobody listening: disabled")
    r.step()

    fc = FakeChase()
    r = chase.Reporter(address=fc.address, rank=0, interval=0)
    r.step()
    fc.close()  # chase gone
    t = time.monotonic()
    for _ in range(100):
        r.step()
    check(time.monotonic() - t < 0.5, "steps block when chase is gone")
    check(r.dropped == 100, "dropped %d of 100" % r.dropped)


def test_full_queue_drops_without_blocking():
    fc = FakeChase()
    r = chase.Reporter(address=fc.address, rank=0, interval=0)
    t = time.monotonic()
    for _ in range(2000):  # nobody reads: the queue fills
        r.step(1)
    check(time.monotonic() - t < 1.0, "steps blocked on a full queue")
    check(r.dropped > 0, "a full queue must drop")
    fc.messages(0)
    r.step(1)
    msgs = fc.messages()
    check(msgs and msgs[-1]["step"] == 2001 and msgs[-1]["samples"] == 2001, "totals after drops: %s" % msgs[-1:])
    fc.close()


def test_module_level_and_exit_flush():
    """chase.step() in a child process with CHASE_PROGRESS and RANK set; the exit flush sends the last totals."""
    fc = FakeChase()
    env = dict(os.environ, CHASE_PROGRESS=fc.address, RANK="5", CHASE_PROGRESS_INTERVAL="30")
    code = ("import chase\n"
            "assert chase.enabled()\n"
            "for i in range(50): chase.step(samples=4)\n"
            "with chase.session():\n"
            "    for b in chase.track(range(10), samples=2): pass\n"
            "for i in range(3): chase.step()\n")
    r = subprocess.run([sys.executable, "-c", code], env=dict(env, PYTHONPATH=os.path.dirname(chase.__path__[0])),
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "child failed: %s" % r.stderr)
    msgs = fc.messages()
    check(len(msgs) >= 2, "messages %s" % msgs)
    last = msgs[-1]
    check(last["step"] == 63 and last["samples"] == 220 and last["rank"] == 5, "final totals %s" % last)
    check(msgs[0]["step"] == 1, "the first step goes out at once")
    check(any(m["step"] == 60 for m in msgs), "session() flushes at its end: %s" % msgs)
    fc.close()


def test_fork_reports_as_itself():
    fc = FakeChase()
    r = chase.Reporter(address=fc.address, rank=None, interval=0)
    r.step()
    pid = os.fork()
    if pid == 0:
        r.step()
        os._exit(0)
    os.waitpid(pid, 0)
    msgs = fc.messages()
    pids = {m["pid"] for m in msgs}
    check(pids == {os.getpid(), pid}, "forked child must send its own pid: %s" % msgs)
    check(all("rank" not in m for m in msgs), "no rank known: none sent")
    fc.close()


def test_callbacks_without_libraries():
    cb = chase.lightning.ChaseCallback()
    before = chase.reporter().steps
    cb.on_train_batch_end(None, None, None, None, 0)
    cb.on_train_end(None, None)
    hf = chase.hf.ChaseCallback()

    class Args:
        per_device_train_batch_size = 8
        gradient_accumulation_steps = 4

    hf.on_step_end(Args(), None, None)
    hf.on_train_end(Args(), None, None)
    check(chase.reporter().steps == before + 2, "callbacks count steps")
    check(chase.lightning._batch_size(None) is None, "batch size of None")

    class T:
        shape = (12, 3)

    check(chase.lightning._batch_size((T(), 1)) == 12, "batch size of a tuple's first tensor")
    check(chase.lightning._batch_size({"x": T()}) == 12, "batch size of a dict's first tensor")


def test_speed():
    """A step with batching on (default interval) costs microseconds at most; the figure is in bench/."""
    fc = FakeChase()
    r = chase.Reporter(address=fc.address, rank=0)
    n = 20000
    t = time.perf_counter()
    for _ in range(n):
        r.step(32)
    per = (time.perf_counter() - t) / n
    print("chase.step(): %.2f us per call (mean of %d)" % (per * 1e6, n))
    check(per < 20e-6, "chase.step() too slow: %.2f us" % (per * 1e6))
    fc.close()


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            before = failures
            fn()
            print("%s %s" % ("ok  " if failures == before else "FAIL", name))
    sys.exit(1 if failures else 0)
