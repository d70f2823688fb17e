#!/usr/bin/python3
"""Cost of one chase.step() from Python, median over blocks of calls (counterpart of bench/bench_progress.c).

A socket stands in for chase's progress socket, so sends take the real path. Figures: chase.step() with the default
batching (a datagram at most every 0.1 s), Reporter.step() (one call less), every step sent (interval 0), a disabled
Reporter, and chase.step() in a process started without CHASE_PROGRESS (the no-op users leave in their code) against
an empty Python function called the same way (target: at most 3x).

Usage: /usr/bin/python3 bench/bench_progress.py [steps]   (default 1000000)
"""

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))


def blocks(fn, n_blocks, per_block, between=None):
    out = []
    clock = time.perf_counter
    for _ in range(n_blocks):
        t = clock()
        for _ in range(per_block):
            fn(256)
        out.append((clock() - t) / per_block)
        if between:
            between()
    return statistics.median(out)


def empty(samples=None):
    """What the no-op is measured against: a Python function that does nothing, called the same way."""


def noop_main(steps):
    """Runs in a child started without CHASE_PROGRESS: chase.step() there, against empty(), interleaved blocks."""
    import chase
    assert not chase.enabled()
    step = chase.step
    noop, base = [], []
    for _ in range(5):
        noop.append(blocks(step, steps // 5000, 1000))
        base.append(blocks(empty, steps // 5000, 1000))
    print("%r %r" % (statistics.median(noop), statistics.median(base)))


def measure_noop(steps):
    env = dict(os.environ)
    env.pop("CHASE_PROGRESS", None)
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--noop", str(steps)], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1])


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--noop":
        noop_main(int(sys.argv[2]))
        return
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    noop, base = measure_noop(steps)
    d = tempfile.mkdtemp(prefix="chase-bench-")
    path = os.path.join(d, "progress.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(path)
    srv.setblocking(False)

    def drain():
        while True:
            try:
                srv.recv(4096)
            except BlockingIOError:
                return

    os.environ["CHASE_PROGRESS"] = "unix:" + path
    os.environ.pop("CHASE_PROGRESS_INTERVAL", None)
    import chase
    assert chase.enabled()
    med_module = blocks(chase.step, steps // 1000, 1000, drain)
    r = chase.Reporter(rank=0)
    med_method = blocks(r.step, steps // 1000, 1000, drain)
    r0 = chase.Reporter(rank=0, interval=0)
    med_send = blocks(r0.step, 20000, 8, drain)
    off = chase.Reporter(address="")
    med_off = blocks(off.step, steps // 1000, 1000)
    print("bench_progress.py: Python progress report, median of blocks (%s)" % sys.version.split()[0])
    print("  chase.step(samples) batched (default 0.1 s): %6.0f ns per step" % (med_module * 1e9))
    print("  Reporter.step(samples) batched:              %6.0f ns per step" % (med_method * 1e9))
    print("  every step sent (interval 0):                %6.0f ns per step" % (med_send * 1e9))
    print("  a disabled Reporter.step(samples):           %6.0f ns per step" % (med_off * 1e9))
    print("  chase.step(samples), CHASE_PROGRESS unset:   %6.0f ns per step" % (noop * 1e9))
    print("  an empty Python function, same call:         %6.0f ns per call" % (base * 1e9))
    print("  no-op / empty call: %.2fx; target <= 3x: %s" % (noop / base, "met" if noop <= 3 * base else "NOT met"))
    print("  dropped: %d; target < 5000 ns: %s" % (r.dropped + r0.dropped,
                                                   "met" if med_module < 5e-6 else "NOT met"))
    srv.close()
    os.unlink(path)
    os.rmdir(d)


if __name__ == "__main__":
    main()
