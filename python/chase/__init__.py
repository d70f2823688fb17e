"""Report training progress to ``chase run`` (protocol: docs/progress-protocol.md).

Add one call per training step::

    import chase
    for batch in loader:
        ...
        optimizer.step()
        chase.step(samples=len(batch))

Under ``chase run`` the environment variable CHASE_PROGRESS holds the address of chase's progress socket; without it
(plain ``python train.py``) every call here is a cheap no-op. Nothing here ever blocks or raises into the training
loop: a report that cannot be sent at once (chase gone, its queue full) is dropped, and since each datagram carries
cumulative totals, the next one makes up for it.

A step costs a counter increment and a clock read; a datagram goes out at most every CHASE_PROGRESS_INTERVAL seconds
(default 0.1), carrying the totals so far.
"""

import atexit
import os
import socket
import sys
import time

__all__ = ["Reporter", "step", "flush", "enabled", "session", "track", "reporter"]

_monotonic = time.monotonic
_DEFAULT_INTERVAL = 0.1


def _env_interval():
    try:
        v = float(os.environ.get("CHASE_PROGRESS_INTERVAL", _DEFAULT_INTERVAL))
    except ValueError:
        return _DEFAULT_INTERVAL
    return v if 0 <= v <= 60 else _DEFAULT_INTERVAL


def _env_rank():
    for name in ("RANK", "SLURM_PROCID"):
        v = os.environ.get(name)
        if v is not None and v.isdigit():
            return int(v)
    return None


def _dist_rank():
    """The torch.distributed rank when the process group is up (torch is never imported here)."""
    dist = sys.modules.get("torch.distributed")
    try:
        if dist is not None and dist.is_available() and dist.is_initialized():
            return int(dist.get_rank())
    except Exception:
        pass
    return None


class Reporter:
    """Counts steps and samples and sends the totals to chase at most every `interval` seconds.

    address: "unix:/path" (default: $CHASE_PROGRESS; absent: the reporter is disabled and counts only).
    rank: this process's rank (default: $RANK, else torch.distributed's rank once initialised, else none).
    """

    __slots__ = ("steps", "samples", "dropped", "_address", "_rank", "_interval", "_next", "_sock", "_pid",
                 "_sent_steps")

    def __init__(self, address=None, rank=None, interval=None):
        self.steps = 0
        self.samples = 0
        self.dropped = 0
        self._address = os.environ.get("CHASE_PROGRESS") if address is None else address
        self._rank = rank if rank is not None else _env_rank()
        self._interval = _env_interval() if interval is None else float(interval)
        self._next = 0.0
        self._sock = None
        self._pid = None
        self._sent_steps = 0
        if self._address:
            self._connect()

    @property
    def enabled(self):
        """True when reports go to a chase that was listening when the reporter connected."""
        return self._sock is not None

    def _connect(self):
        self._sock = None
        self._pid = os.getpid()
        addr = self._address
        if not addr or not addr.startswith("unix:") or len(addr) <= 5:
            return
        path = addr[5:]
        if path.startswith("@"):
            path = "\0" + path[1:]
        s = None
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.setblocking(False)
            s.connect(path)
        except OSError:
            if s is not None:
                s.close()
            return
        self._sock = s

    def step(self, samples=None):
        """Counts one training step of `samples` samples (None: unknown). Never blocks, never raises."""
        self.steps += 1
        if samples is not None:
            try:
                self.samples += int(samples)
            except Exception:
                pass
        now = _monotonic()
        if now >= self._next:
            self._next = now + self._interval
            self._send()

    def flush(self):
        """Sends the totals now if any step is unsent."""
        if self.steps != self._sent_steps:
            self._send()

    def _send(self):
        if self._sock is None:
            return
        try:
            if os.getpid() != self._pid:  # forked: the socket belongs to the parent
                self._sock.close()
                self._connect()
                if self._sock is None:
                    return
            if self._rank is None:
                self._rank = _dist_rank()
            if self._rank is None:
                msg = "chase1 step=%d samples=%d pid=%d\n" % (self.steps, self.samples, self._pid)
            else:
                msg = "chase1 step=%d samples=%d rank=%d pid=%d\n" % (self.steps, self.samples, self._rank,
                                                                      self._pid)
            self._sock.send(msg.encode("ascii"))
            self._sent_steps = self.steps
        except Exception:
            self.dropped += 1

    def close(self):
        """Flushes and closes the socket; later steps are counted only."""
        self.flush()
        if self._sock is not None:
            try:
                self._sock.close()
            except Exception:
                pass
            self._sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


_default = None


def reporter():
    """The process-wide reporter that step() uses (created on first use, flushed at exit)."""
    global _default
    r = _default
    if r is None or r._pid not in (None, os.getpid()):
        r = _default = Reporter()
        atexit.register(r.flush)
    return r


def step(samples=None):
    """Reports one training step (of `samples` samples) to chase; a no-op when not running under chase run."""
    r = _default
    if r is None:
        r = reporter()
    r.step(samples)


def flush():
    """Sends the totals counted so far (chase also gets them at interpreter exit)."""
    if _default is not None:
        _default.flush()


def enabled():
    """True when this process runs under chase run and reaches its progress socket."""
    return reporter().enabled


class session:
    """Context manager around a training run: flushes the totals when the block ends, even on an exception.

        with chase.session():
            train()
    """

    def __enter__(self):
        return reporter()

    def __exit__(self, *exc):
        flush()
        return False


def track(iterable, samples=None):
    """Wraps a plain loop's data iterator: each item handed out after the first counts the previous one as a step.

    samples: an int (samples per step) or a function item -> int (e.g. len). The last step is counted when the
    iterator is exhausted.
    """
    r = reporter()
    count = samples if callable(samples) else (lambda _item, n=samples: n)

    def counted(item):
        try:
            return count(item)
        except Exception:
            return None

    pending = False
    prev = None
    for item in iterable:
        if pending:
            r.step(counted(prev))
        prev = item
        pending = True
        yield item
    if pending:
        r.step(counted(prev))
    r.flush()
