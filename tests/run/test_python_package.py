#!/usr/bin/python3
"""The chase Python package on its own (no torch, no chase binary): a socket stands in for chase.

Checks what training code relies on: reports arrive in the documented format with cumulative totals, batching sends
at most one datagram per interval, flush and exit send the rest, nothing raises or blocks when chase is absent, gone
or busy, ranks come from RANK, a forked child reports as itself, and the callbacks import without their libraries.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

SOURCE_DIR = os.environ.get("CHASE_SOURCE_DIR", os.path.dirname(os.path.abspath(__file__)) + "/../..")
PYTHON_DIR = os.path.join(SOURCE_DIR, "python")
sys.path.insert(0, PYTHON_DIR)
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


# This process runs "under chase": a socket stands in for chase's, set before the import, since the package decides
# once, at import, whether it reports at all. The no-op path is checked in a child without CHASE_PROGRESS.
MODULE_CHASE = FakeChase()
os.environ["CHASE_PROGRESS"] = MODULE_CHASE.address
os.environ.pop("RANK", None)
os.environ.pop("CHASE_PROGRESS_INTERVAL", None)

import chase  # noqa: E402
import chase.hf  # noqa: E402
import chase.lightning  # noqa: E402


class FakeClock:
    """Stands in for chase's monotonic clock, so batching is checked without sleeping or timing the machine."""

    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


class Deadline:
    """Fails the run (SIGALRM) if a block that must not block takes longer than `seconds`: a hang becomes a failure
    with a message, and no upper bound is put on how fast a busy machine runs the block."""

    def __init__(self, seconds, what):
        self.seconds, self.what = seconds, what

    def _fire(self, *_):
        raise RuntimeError("blocked for %d s: %s" % (self.seconds, self.what))

    def __enter__(self):
        signal.signal(signal.SIGALRM, self._fire)
        signal.alarm(self.seconds)

    def __exit__(self, *exc):
        signal.alarm(0)
        return False


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

    clock, saved = FakeClock(), chase._monotonic
    chase._monotonic = clock
    try:
        r = chase.Reporter(address=fc.address, rank=1, interval=0.05)
        r.step()
        clock.t += 0.04
        r.step()
        clock.t += 0.04
        r.step()
    finally:
        chase._monotonic = saved
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
    with Deadline(20, "steps after chase is gone"):
        for _ in range(100):
            r.step()
        r.flush(wait=60)  # the last report never waits for a chase that is gone
    check(r.dropped == 101, "dropped %d of 101" % r.dropped)


def test_full_queue_drops_without_blocking():
    fc = FakeChase()
    r = chase.Reporter(address=fc.address, rank=0, interval=0)
    with Deadline(20, "steps on a full queue"):
        for _ in range(2000):  # nobody reads: the queue fills
            r.step(1)
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
    r = subprocess.run([sys.executable, "-c", code], env=dict(env, PYTHONPATH=PYTHON_DIR),
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
    MODULE_CHASE.messages(0)
    before = chase.reporter().steps
    cb = chase.lightning.ChaseCallback()
    cb.on_train_batch_end(None, None, None, None, 0)  # no trainer to ask: the batch is a step
    cb.on_train_end(None, None)
    hf = chase.hf.ChaseCallback()

    class Args:
        per_device_train_batch_size = 8
        gradient_accumulation_steps = 4

    hf.on_step_end(Args(), None, None)
    hf.on_train_end(Args(), None, None)
    check(chase.reporter().steps == before + 2, "callbacks count steps")
    last = MODULE_CHASE.messages()[-1:]
    check(last and last[0]["step"] == before + 2, "on_train_end sends the totals: %s" % last)
    check(chase.lightning._batch_size(None) is None, "batch size of None")
    check(chase.lightning._batch_size((T((12, 3)), 1)) == 12, "batch size of a tuple's first tensor")
    check(chase.lightning._batch_size({"x": T((12,))}) == 12, "batch size of a dict's first tensor")


class T:
    """A stand-in for a tensor: only its shape is read."""

    def __init__(self, shape):
        self.shape = shape


def test_lightning_counts_optimizer_steps():
    """Under gradient accumulation Lightning ends a batch four times per optimizer step: the callback reports one step
    per optimizer step (global_step), with the samples of all four batches."""
    MODULE_CHASE.messages(0)
    r = chase.reporter()
    steps0, samples0 = r.steps, r.samples

    class Trainer:
        global_step = 0

    trainer = Trainer()
    cb = chase.lightning.ChaseCallback()
    cb.on_train_start(trainer, None)
    for i in range(12):  # accumulate_grad_batches=4: the optimizer steps after batches 3, 7, 11
        if i % 4 == 3:
            trainer.global_step += 1
        cb.on_train_batch_end(trainer, None, None, [T((16, 3)), T((16,))], i)
    check(r.steps - steps0 == 3, "3 optimizer steps, counted %d" % (r.steps - steps0))
    check(r.samples - samples0 == 12 * 16, "samples of every batch: %d" % (r.samples - samples0))
    # A resumed run: global_step starts at 500; only the steps of this run count.
    trainer.global_step = 500
    cb.on_train_start(trainer, None)
    steps1 = r.steps
    for i in range(2):
        trainer.global_step += 1
        cb.on_train_batch_end(trainer, None, None, {"input_ids": T((8, 128))}, i)
    check(r.steps - steps1 == 2, "resumed: 2 steps, counted %d" % (r.steps - steps1))


def test_track_counts_samples():
    """track(loader, samples=len) counts the samples of a batch, not its parts: an (x, y) batch of 32 is 32."""
    MODULE_CHASE.messages(0)
    r = chase.reporter()
    cases = [
        ("tuple (x, y)", [(T((32, 3)), T((32,)))] * 3, 96),
        ("list [x, y] as DataLoader collates tuples", [[T((32, 3)), T((32,))]] * 3, 96),
        ("dict", [{"input_ids": T((8, 128)), "labels": T((8,))}] * 2, 16),
        ("tensor", [T((5, 2))] * 4, 20),
        ("list of strings", [["a", "b", "c"]] * 2, 6),
        ("tuple of lists", [([1, 2, 3, 4], [0, 1, 0, 1])] * 2, 8),
    ]
    for name, batches, want in cases:
        before_steps, before = r.steps, r.samples
        for _ in chase.track(batches, samples=len):
            pass
        check(r.samples - before == want, "track(samples=len) on %s: %d samples, want %d" % (name, r.samples - before,
                                                                                             want))
        check(r.steps - before_steps == len(batches), "track on %s: steps" % name)
    before = r.samples
    for _ in chase.track([(1, 2)] * 3, samples=lambda b: 10):  # any other function gets the whole item
        pass
    check(r.samples - before == 30, "track with a function")
    check(chase.batch_size(object()) is None and chase.batch_size(T(())) is None, "unknown batch sizes are None")


def test_no_op_without_chase():
    """Without CHASE_PROGRESS at import, step() is an empty function: no reporter is made, no clock is read (a clock
    that raises shows it), and track() hands items through; a forked child too."""
    code = ("import os, chase, time\n"
            "def boom(): raise RuntimeError('the clock was read')\n"
            "chase._monotonic = boom\n"
            "for i in range(1000): chase.step(samples=32)\n"
            "assert chase._default is None, 'a reporter was made'\n"
            "assert list(chase.track(range(3), samples=len)) == [0, 1, 2]\n"
            "assert chase._default is None and not chase.enabled()\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    chase.step(); os._exit(0 if chase._default is None else 3)\n"
            "assert os.waitpid(pid, 0)[1] == 0, 'the child made a reporter'\n"
            "chase.flush(); print('noop ok', chase.step.__name__)\n")
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR)
    env.pop("CHASE_PROGRESS", None)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and "noop ok" in r.stdout, "no-op path: %s %s" % (r.stdout, r.stderr))


def test_module_step_after_fork():
    """Under chase, a forked child's chase.step() reports with the child's own pid (fork-safety of the default)."""
    MODULE_CHASE.messages(0)
    chase.step()
    chase.flush()
    pid = os.fork()
    if pid == 0:
        try:
            chase.step()
            chase.flush()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    pids = {m["pid"] for m in MODULE_CHASE.messages()}
    check(pid in pids and os.getpid() in pids, "forked child reports as itself: %s" % pids)


def test_final_flush_waits_for_a_busy_chase():
    """The last totals at exit survive a full queue: chase is busy (not reading) while the job ends; the exit flush
    waits until chase reads again. Before, the final datagram was dropped like any other."""
    fc = FakeChase()
    env = dict(os.environ, CHASE_PROGRESS=fc.address, CHASE_PROGRESS_INTERVAL="0", PYTHONPATH=PYTHON_DIR)
    code = ("import sys, chase\n"
            "for i in range(500): chase.step(samples=2)\n"  # far more datagrams than the queue holds: most dropped
            "print('stepped', chase.reporter().dropped, flush=True)\n")
    p = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    check(line.startswith("stepped") and int(line.split()[1]) > 0, "the queue filled: %r" % line)
    time.sleep(0.3)  # the child is now in its exit flush, waiting for room
    got = []
    with Deadline(30, "draining while the child exits"):
        while p.poll() is None:
            got += fc.messages(0.02)
        got += fc.messages(0.05)
    check(p.wait(timeout=30) == 0, "child failed")
    last = got[-1] if got else {}
    check(last.get("step") == 500 and last.get("samples") == 1000, "final totals arrived: %s" % last)
    fc.close()


def test_final_flush_never_waits_for_a_gone_chase():
    """A chase that is gone answers at once: the exit flush does not wait, even with a minute allowed."""
    fc = FakeChase()
    env = dict(os.environ, CHASE_PROGRESS=fc.address, CHASE_PROGRESS_INTERVAL="30", PYTHONPATH=PYTHON_DIR)
    code = ("import sys, chase\n"
            "chase.FINAL_WAIT_S = 60\n"
            "for i in range(5): chase.step()\n"
            "print('stepped', flush=True)\n"
            "sys.stdin.readline()\n")
    p = subprocess.Popen([sys.executable, "-c", code], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    check(p.stdout.readline().startswith("stepped"), "child did not step")
    fc.close()  # chase gone before the job ends
    t = time.monotonic()
    p.stdin.write("\n")
    p.stdin.flush()
    check(p.wait(timeout=120) == 0, "child failed")
    check(time.monotonic() - t < 30, "the exit flush waited for a chase that is gone")


def test_pip_install_offline():
    """`pip install ./python` works offline (pyproject.toml, no build isolation), and the installed package has its
    version (CMakeLists.txt's) and py.typed. The source is copied first so the build leaves nothing in the tree."""
    import re
    import shutil
    version = re.search(r"project\(chase VERSION ([0-9.]+)", open(os.path.join(SOURCE_DIR, "CMakeLists.txt")).read())
    check(version and chase.__version__ == version.group(1), "chase.__version__ %s vs CMake %s" %
          (chase.__version__, version and version.group(1)))
    tmp = tempfile.mkdtemp(prefix="chase-pip-")
    try:
        src = os.path.join(tmp, "src")
        shutil.copytree(PYTHON_DIR, src, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-index", "--no-deps",
                            "--disable-pip-version-check", "--target", os.path.join(tmp, "site"), src],
                           capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, "pip install failed: %s" % (r.stdout + r.stderr)[-2000:])
        env = dict(os.environ, PYTHONPATH=os.path.join(tmp, "site"))
        env.pop("CHASE_PROGRESS", None)
        r = subprocess.run([sys.executable, "-c", "import chase, chase.lightning, chase.hf, os; "
                            "print(chase.__version__, chase.__file__, "
                            "os.path.exists(os.path.join(os.path.dirname(chase.__file__), 'py.typed')))"],
                           env=env, capture_output=True, text=True, timeout=60, cwd=tmp)
        out = r.stdout.split()
        check(r.returncode == 0 and len(out) == 3 and out[0] == chase.__version__ and
              out[1].startswith(os.path.join(tmp, "site")) and out[2] == "True", "installed package: %s %s" %
              (r.stdout, r.stderr))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_speed():
    """A step with batching on (default interval) costs microseconds at most; the figure is in bench/. CPU time with
    a generous bound: it catches a send per step or a syscall per step, not a busy machine."""
    fc = FakeChase()
    r = chase.Reporter(address=fc.address, rank=0)
    n = 20000
    t = time.process_time()
    for _ in range(n):
        r.step(32)
    per = (time.process_time() - t) / n
    print("chase.step(): %.2f us CPU per call (mean of %d)" % (per * 1e6, n))
    check(per < 100e-6, "chase.step() too slow: %.2f us" % (per * 1e6))
    fc.close()


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_") and (len(sys.argv) < 2 or name in sys.argv[1:]):
            before = failures
            try:
                fn()
            except Exception as e:  # one broken test must not hide the others
                check(False, "%s raised %s: %s" % (name, type(e).__name__, e))
            print("%s %s" % ("ok  " if failures == before else "FAIL", name))
    MODULE_CHASE.close()
    sys.exit(1 if failures else 0)
