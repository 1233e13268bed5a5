"""The emulated backend's record of what CUDA orders (backends/ordering.py), operation by operation, from
each stream's first operation on: what events, waits and synchronizations order passes; what they do
not is a StreamRaceError naming both sides."""
import pytest

from convnet.backends.ordering import Buffer, Ordering, Stream, StreamRaceError


@pytest.fixture
def streams():
    return Ordering(), Stream("stream a"), Stream("stream b")


def test_a_read_on_another_stream_waits_for_the_write(streams):
    ordering, a, b = streams
    x = Buffer(a, (4,), "x")
    ordering.op(a, "a write", writes=[x])                     # a's first operation
    with pytest.raises(StreamRaceError, match="a read on stream b reads a 4 buffer \\(x\\) that a write on stream a "
                                              "wrote without an event or synchronization"):
        ordering.op(b, "a read", reads=[x])
    ordering.wait(b, ordering.record(a))
    ordering.op(b, "a read", reads=[x])


def test_the_host_reads_what_a_stream_wrote_once_it_has_synchronized(streams):
    ordering, a, _ = streams
    x = Buffer(a, (4,), "x")
    ordering.op(a, "a write", writes=[x])
    with pytest.raises(StreamRaceError, match="the host reads a 4 buffer \\(x\\) in a copy before a write on stream a"):
        ordering.host_read(x, "a copy")
    ordering.synchronize(a)
    ordering.host_read(x, "a copy")


def test_the_host_writes_pinned_memory_once_the_copy_reading_it_is_done(streams):
    ordering, a, _ = streams
    pinned = Buffer(a, (4,), "pinned")
    ordering.op(a, "a copy to the device", reads=[pinned])
    with pytest.raises(StreamRaceError, match="a host write to a 4 buffer \\(pinned\\) while a copy to the device on "
                                              "stream a may still read it"):
        ordering.host_write(pinned, "a host write")
    ordering.synchronize(a)
    ordering.host_write(pinned, "a host write")


def test_an_event_is_known_done_once_the_host_has_seen_its_work(streams):
    ordering, a, b = streams
    assert not ordering.known(ordering.record(b))             # even recorded first, before any work on b
    ordering.op(a, "some work")
    event = ordering.record(a)
    assert not ordering.known(event)
    ordering.op(b, "other work")
    ordering.synchronize(b)                                   # another stream's work tells nothing of a's
    assert not ordering.known(event)
    ordering.synchronize(a)
    assert ordering.known(event)
    ordering.op(a, "more work")
    later = ordering.record(a)
    assert not ordering.known(later)
    ordering.observe(later)                                   # cudaEventSynchronize
    assert ordering.known(later)


def test_memory_freed_while_another_stream_may_read_it_races_at_the_next_operation(streams):
    ordering, a, b = streams
    x = Buffer(a, (4,), "x")
    ordering.op(a, "a write", writes=[x])
    ordering.wait(b, ordering.record(a))
    ordering.op(b, "a read", reads=[x])                       # b's first operation
    ordering.free(x)
    with pytest.raises(StreamRaceError, match="a 4 buffer \\(x\\), allocated on stream a, was freed while a read on "
                                              "stream b may still use it"):
        ordering.op(a, "the next")
    y = Buffer(a, (4,), "y")
    ordering.op(a, "a write", writes=[y])
    ordering.wait(b, ordering.record(a))
    ordering.op(b, "a read", reads=[y])
    ordering.wait(a, ordering.record(b))                      # a's pool hands y on only after b's read
    ordering.free(y)
    ordering.op(a, "the next")
