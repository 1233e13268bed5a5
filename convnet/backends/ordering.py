"""What a GPU guarantees about the order of work, kept beside the emulated backend's eager execution.

The emulated backend runs every operation at once, in program order, so on its own it passes a
program whose GPU run would race. This module keeps what CUDA would actually guarantee: one vector
clock per stream and one for the host, advanced by the operations issued on a stream and joined by
events, stream waits and host synchronizations (happens-before, as a race detector keeps it). For
every buffer it keeps the last write and the reads since. Then, deterministically, whatever the
timing a GPU would have:

- an operation that reads a buffer whose last write is not ordered before it (a missing wait),
- an operation that writes a buffer another stream may still be reading or writing,
- a host read of a buffer whose write the host has not waited for,
- memory freed to its stream's pool (CuPy keeps one pool per stream, and hands a freed block to
  the next allocation on that stream without waiting) while another stream may still use it,

raise StreamRaceError, naming the operation, the buffer and both streams. A race found when memory
is freed (inside the garbage collector, where nothing can be raised) is raised by the next operation.
"""
import threading

from ..errors import BackendError


class StreamRaceError(BackendError):
    """Two accesses to device memory that a GPU would not order."""


class Stream:
    def __init__(self, name):
        self.name = name
        self.clock = {self: 0}

    def __repr__(self):
        return self.name


class Event:
    def __init__(self, clock):
        self.clock = dict(clock)


class Buffer:
    """One allocation: the stream whose pool it came from, its last write and its reads since."""

    def __init__(self, stream, shape, what):
        self.stream, self.shape, self.what = stream, shape, what
        self.write = None          # (stream, time, operation)
        self.reads = {}            # stream -> (time, operation)

    def accesses(self):
        return ([self.write] if self.write else []) + [(s, t, op) for s, (t, op) in self.reads.items()]

    def __repr__(self):
        return f"a {'x'.join(map(str, self.shape)) or 'scalar'} buffer ({self.what})"


def _join(into, clock):
    for key, t in clock.items():
        if into.get(key, 0) < t:
            into[key] = t


class Ordering:
    def __init__(self):
        self.null = Stream("the null stream")
        self.host = {}
        self.pending = []            # races found by the garbage collector
        self._lock = threading.Lock()

    # ---- streams, events and the host -------------------------------------------------------

    def record(self, stream):
        """cudaEventRecord: an event that completes when stream's work issued so far has."""
        self._issue(stream)
        return Event(stream.clock)

    def wait(self, stream, event):
        """cudaStreamWaitEvent: stream's later work runs after the event's."""
        _join(stream.clock, event.clock)

    def synchronize(self, stream):
        """cudaStreamSynchronize: the host has seen all of stream's work done."""
        _join(self.host, stream.clock)
        self.raise_pending()

    def observe(self, event):
        """cudaEventQuery that returned done, or cudaEventSynchronize."""
        _join(self.host, event.clock)

    def known(self, event):
        """Whether the host has already seen everything the event waits for."""
        return all(self.host.get(s, 0) >= t for s, t in event.clock.items())

    # ---- accesses -----------------------------------------------------------------------------

    def op(self, stream, what, reads=(), writes=()):
        """An operation issued on stream that reads and writes these buffers (None: untracked memory)."""
        self.raise_pending()
        t = self._issue(stream)
        for buf in reads:
            if buf is not None and buf.write is not None:
                self._check(stream, what, buf, buf.write, "reads", "wrote")
        for buf in writes:
            if buf is None:
                continue
            for access in buf.accesses():
                self._check(stream, what, buf, access, "writes", "used")
        for buf in reads:
            if buf is not None:
                buf.reads[stream] = (t, what)
        for buf in writes:
            if buf is not None:
                buf.write, buf.reads = (stream, t, what), {}
        return t

    def host_read(self, buf, what):
        if buf is not None and buf.write is not None:
            w_stream, t, op = buf.write
            if self.host.get(w_stream, 0) < t:
                raise StreamRaceError(f"the host reads {buf} in {what} before {op} on {w_stream} has written "
                                      f"it: a copy to the host must wait for the stream that wrote it")

    def host_write(self, buf, what):
        """The host writes host memory that copies to a device read asynchronously (pinned memory)."""
        for s, t, op in buf.accesses():
            if self.host.get(s, 0) < t:
                raise StreamRaceError(f"{what} to {buf} while {op} on {s} may still read it: the host must "
                                      f"wait for that copy first")

    def free(self, buf):
        """buf's memory goes back to its stream's pool, where the next allocation on that stream may
        take and overwrite it at once: every other stream's use must be ordered before that."""
        reuse = dict(buf.stream.clock)
        _join(reuse, self.host)
        for s, t, op in buf.accesses():
            if s is not buf.stream and reuse.get(s, 0) < t:
                with self._lock:
                    self.pending.append(StreamRaceError(
                        f"{buf}, allocated on {buf.stream}, was freed while {op} on {s} may still use it: "
                        f"its pool can hand it to the next allocation on {buf.stream}; keep it alive until "
                        f"{s} has passed that operation"))
                return

    def raise_pending(self):
        if self.pending:
            with self._lock:
                error, self.pending = self.pending[0], []
            raise error

    # ---- internals ----------------------------------------------------------------------------

    def _issue(self, stream):
        # Work the host issues after it has seen other work done runs after that work.
        _join(stream.clock, self.host)
        stream.clock[stream] = stream.clock.get(stream, 0) + 1
        return stream.clock[stream]

    @staticmethod
    def _check(stream, what, buf, access, verb, past):
        other, t, op = access
        if other is not stream and stream.clock.get(other, 0) < t:
            raise StreamRaceError(f"{what} on {stream} {verb} {buf} that {op} on {other} {past} without an "
                                  f"event or synchronization between them: on a GPU the two may overlap")
