"""Report training progress to ``chase run`` (protocol: docs/progress-protocol.md).

Add one call per training step::

    import chase
    for x, y in loader:
        ...
        optimizer.step()
        chase.step(samples=len(x))

Under ``chase run`` the environment variable CHASE_PROGRESS holds the address of chase's progress socket; without it
(plain ``python train.py``) ``step()`` is an empty function, decided once when the module is imported. Nothing here
ever blocks or raises into the training loop: a report that cannot be sent at once (chase gone, its queue full) is
dropped, and since each datagram carries cumulative totals, the next one makes up for it. Only the last report, at
exit or when training ends, waits a little (up to FINAL_WAIT_S) for a chase that is busy, never for one that is gone.

A step costs a counter increment and a clock read; a datagram goes out at most every CHASE_PROGRESS_INTERVAL seconds
(default 0.1), carrying the totals so far.
"""

import atexit
import os
import socket
import sys
import time
from typing import Any, Callable, Iterable, Iterator, Optional, TypeVar, Union

__version__ = "0.1.0"  # the version of chase this package ships with (CMakeLists.txt project VERSION)

__all__ = ["Reporter", "step", "flush", "enabled", "session", "track", "reporter", "batch_size", "__version__",
           "FINAL_WAIT_S"]

_T = TypeVar("_T")
_monotonic = time.monotonic
_DEFAULT_INTERVAL = 0.1
FINAL_WAIT_S = 3.0  # how long the last report of a run may wait for a busy chase (its socket queue full)


def _env_interval() -> float:
    try:
        v = float(os.environ.get("CHASE_PROGRESS_INTERVAL", _DEFAULT_INTERVAL))
    except ValueError:
        return _DEFAULT_INTERVAL
    return v if 0 <= v <= 60 else _DEFAULT_INTERVAL


def _env_rank() -> Optional[int]:
    for name in ("RANK", "SLURM_PROCID"):
        v = os.environ.get(name)
        if v is not None and v.isdigit():
            return int(v)
    return None


def _dist_rank() -> Optional[int]:
    """The torch.distributed rank when the process group is up (torch is never imported here)."""
    dist = sys.modules.get("torch.distributed")
    try:
        if dist is not None and dist.is_available() and dist.is_initialized():
            return int(dist.get_rank())
    except Exception:
        pass
    return None


def batch_size(batch: Any) -> Optional[int]:
    """Samples in a batch, as ``track(loader, samples=len)`` counts them: a tensor's first dimension; for a tuple or
    list batch (``(x, y)``, or the list a DataLoader makes of it) and a dict batch, that of its first element or
    value; else len(). A list of plain values (strings, numbers) is itself the batch. None when it cannot be told."""
    try:
        if isinstance(batch, dict):
            batch = next(iter(batch.values())) if batch else batch
        elif isinstance(batch, (list, tuple)) and batch:
            first = batch[0]
            if getattr(first, "shape", None) is not None or isinstance(first, (list, tuple, dict)):
                batch = first
        if isinstance(batch, dict):  # {"input": {...}} is rare; count its first value the same way
            batch = next(iter(batch.values())) if batch else batch
        shape = getattr(batch, "shape", None)
        if shape is not None:
            return int(shape[0]) if len(shape) > 0 else None
        return len(batch)
    except Exception:
        return None


class Reporter:
    """Counts steps and samples and sends the totals to chase at most every `interval` seconds.

    address: "unix:/path" (default: $CHASE_PROGRESS; absent: the reporter is disabled and counts only).
    rank: this process's rank (default: $RANK, else torch.distributed's rank once initialised, else none).
    """

    __slots__ = ("steps", "samples", "dropped", "_address", "_rank", "_interval", "_next", "_sock", "_pid",
                 "_sent_steps", "_sent_samples")

    def __init__(self, address: Optional[str] = None, rank: Optional[int] = None,
                 interval: Optional[float] = None) -> None:
        self.steps = 0
        self.samples = 0
        self.dropped = 0
        self._address = os.environ.get("CHASE_PROGRESS") if address is None else address
        self._rank = rank if rank is not None else _env_rank()
        self._interval = _env_interval() if interval is None else float(interval)
        self._next = 0.0
        self._sock: Optional[socket.socket] = None
        self._pid: Optional[int] = None
        self._sent_steps = 0
        self._sent_samples = 0
        if self._address:
            self._connect()

    @property
    def enabled(self) -> bool:
        """True when reports go to a chase that was listening when the reporter connected."""
        return self._sock is not None

    def _connect(self) -> None:
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

    def step(self, samples: Optional[int] = None) -> None:
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

    def flush(self, wait: float = 0.0) -> None:
        """Sends the totals now if any step is unsent. wait > 0: if chase's queue is full, wait up to that many
        seconds for room (for the last report of a run); never waits when chase is gone."""
        if self.steps != self._sent_steps or self.samples != self._sent_samples:
            self._send(wait)

    def _message(self) -> bytes:
        if self._rank is None:
            self._rank = _dist_rank()
        if self._rank is None:
            msg = "chase1 step=%d samples=%d pid=%d\n" % (self.steps, self.samples, self._pid)
        else:
            msg = "chase1 step=%d samples=%d rank=%d pid=%d\n" % (self.steps, self.samples, self._rank, self._pid)
        return msg.encode("ascii")

    def _send(self, wait: float = 0.0) -> None:
        if self._sock is None:
            return
        try:
            if os.getpid() != self._pid:  # forked: the socket belongs to the parent
                self._sock.close()
                self._connect()
                if self._sock is None:
                    return
            data = self._message()
            if wait > 0:
                self._send_waiting(data, wait)
            else:
                self._sock.send(data)
            self._sent_steps, self._sent_samples = self.steps, self.samples
        except Exception:
            self.dropped += 1

    def _send_waiting(self, data: bytes, wait: float) -> None:
        """A send that waits up to `wait` seconds while chase's queue is full (EAGAIN). A chase that is gone answers
        ECONNREFUSED or ENOENT at once, which is raised without waiting."""
        assert self._sock is not None
        sock = self._sock
        try:
            sock.settimeout(wait)  # poll for room, then send; a full queue is the only thing that can make it wait
            sock.send(data)
        finally:
            try:
                sock.setblocking(False)
            except OSError:
                pass

    def close(self, wait: float = FINAL_WAIT_S) -> None:
        """Flushes (waiting up to `wait` s for a busy chase) and closes the socket; later steps are counted only."""
        self.flush(wait)
        if self._sock is not None:
            try:
                self._sock.close()
            except Exception:
                pass
            self._sock = None

    def __enter__(self) -> "Reporter":
        return self

    def __exit__(self, *exc: Any) -> bool:
        self.close()
        return False


_default: Optional[Reporter] = None
# Decided once, at import: a process not started by chase run never reports, so step() need not even count.
_UNDER_CHASE = bool(os.environ.get("CHASE_PROGRESS"))


def _final_flush() -> None:
    """At interpreter exit: the last totals, waiting up to FINAL_WAIT_S for a busy chase."""
    r = _default
    if r is not None:
        r.flush(FINAL_WAIT_S)


if _UNDER_CHASE:
    atexit.register(_final_flush)


def reporter() -> Reporter:
    """The process-wide reporter that step() uses (created on first use; its last totals are sent at exit)."""
    global _default
    r = _default
    if r is None or r._pid not in (None, os.getpid()):
        r = _default = Reporter()
    return r


if _UNDER_CHASE:

    def step(samples: Optional[int] = None) -> None:
        """Reports one training step (of `samples` samples) to chase."""
        r = _default
        if r is None:
            r = reporter()
        r.step(samples)

else:

    def step(samples: Optional[int] = None) -> None:
        """Not running under chase run (CHASE_PROGRESS was unset at import): nothing to count or send. The empty body
        is the point: the call costs what an empty Python call costs, so it can stay in training code for good."""


def flush(wait: float = 0.0) -> None:
    """Sends the totals counted so far (chase also gets them at interpreter exit). wait: seconds the send may wait
    for a busy chase (0: never wait, for calls inside the training loop)."""
    if _default is not None:
        _default.flush(wait)


def enabled() -> bool:
    """True when this process runs under chase run and reaches its progress socket."""
    return _UNDER_CHASE and reporter().enabled


class session:
    """Context manager around a training run: sends the last totals when the block ends, even on an exception
    (waiting up to FINAL_WAIT_S for a busy chase).

        with chase.session():
            train()
    """

    def __enter__(self) -> Reporter:
        return reporter()

    def __exit__(self, *exc: Any) -> bool:
        flush(FINAL_WAIT_S)
        return False


def track(iterable: Iterable[_T], samples: Union[None, int, Callable[[_T], Optional[int]]] = None) -> Iterator[_T]:
    """Wraps a plain loop's data iterator: each item handed out after the first counts the previous one as a step.

    samples: an int (samples per step), a function item -> int, or ``len``, which counts a batch as batch_size()
    does (the first element of an ``(x, y)`` batch, the first value of a dict batch), not its number of parts. The
    last step is counted, and the totals sent, when the iterator is exhausted.
    """
    if not _UNDER_CHASE:
        yield from iterable
        return
    r = reporter()
    if samples is len:
        count: Callable[[Any], Optional[int]] = batch_size
    elif callable(samples):
        count = samples
    else:
        count = lambda _item, n=samples: n  # noqa: E731

    def counted(item: Any) -> Optional[int]:
        try:
            return count(item)
        except Exception:
            return None

    pending = False
    prev: Any = None
    for item in iterable:
        if pending:
            r.step(counted(prev))
        prev = item
        pending = True
        yield item
    if pending:
        r.step(counted(prev))
    r.flush(FINAL_WAIT_S)
