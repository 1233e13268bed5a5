"""What the cuda and the emulated backend share: the logical devices' streams, how an array crosses
from one to another, how the host reads device memory, and which BLAS handle a GEMM uses.

Written once here so that the emulated backend, whose streams are checked for order
(ordering.py), tests the very code that runs on a GPU. A backend supplies the primitives:
_new_stream, _enter (a physical device and stream made current), _current_stream, _sync, _record,
_wait, _done, _host_wait, _memcpy, _download, _new_handle, and for uploads through pinned memory
_pinned_empty, _host_write and _upload_async.

The rules, each the fix of a way to get wrong numbers on a GPU:
- Each logical device has its own non-blocking stream; everything computed for a layer runs on the
  stream of the layer's device (callers enter `use_device`).
- An array copied to another device: an event recorded on the source's stream, the destination's
  stream waits for it, the copy runs on the destination's stream. The source is kept alive until the
  destination's stream has passed the copy (a pool is per stream: freed at once, its memory could be
  handed to the source stream's next allocation while the copy still reads it).
- A host read runs on the stream of the device that owns the array and waits for it; without a
  device, every stream is waited for first.
- A BLAS handle per stream: one handle shared by concurrent streams shares its workspace, and its
  math mode (TF32) would leak into every other user of the handle.
"""
import numpy as np


class GpuPathBackend:
    gpu_path = True

    def __init__(self):
        self._streams = {}       # logical device index -> stream
        self._handles = {}       # stream -> BLAS handle
        self._in_flight = []     # (event on the reader's stream, array): sources of copies still read
        self._copy_streams = {}  # physical device -> the stream that uploads batches to it

    # ---- streams --------------------------------------------------------------------------

    def stream(self, device):
        if device.index not in self._streams:
            self._streams[device.index] = self._new_stream(device.physical, f"logical device {device.index}")
        return self._streams[device.index]

    def copy_stream(self, physical):
        """The stream that uploads batches to a physical device, beside its logical devices' streams."""
        if physical not in self._copy_streams:
            self._copy_streams[physical] = self._new_stream(physical, f"uploads to {physical}")
        return self._copy_streams[physical]

    def use_device(self, device):
        """Entered: the logical device's physical device is current, and its stream."""
        return self._enter(device.physical, self.stream(device))

    def use_stream(self, physical, stream):
        return self._enter(physical, stream)

    def synchronize(self):
        """The host waits for every logical device's stream."""
        for stream in list(self._streams.values()) + list(self._copy_streams.values()):
            self._sync(stream)
        self._in_flight.clear()

    def blas_handle(self):
        """The BLAS handle of the current stream (created on first use, bound to that stream)."""
        stream = self._current_stream()
        if stream not in self._handles:
            self._handles[stream] = self._new_handle(stream)
        return self._handles[stream]

    # ---- crossing devices -----------------------------------------------------------------

    def copy(self, x, src, dst):
        """x (on logical device src) as a new array on dst; called in dst's context (devices.transfer)."""
        ready = self._record(self.stream(src))
        stream = self.stream(dst)
        self._wait(stream, ready)
        out = self.empty(x.shape)
        self._memcpy(out, x, src, dst, stream)
        self._keep_until_passed(x, stream)
        return out

    def _keep_until_passed(self, x, stream):
        self._in_flight = [(e, a) for e, a in self._in_flight if not self._done(e)]
        self._in_flight.append((self._record(stream), x))

    def to_host(self, x, device=None):
        """x as a NumPy array, read after the work that wrote it: on device's stream when the caller
        knows where x lives, after every stream otherwise."""
        if not isinstance(x, self.array_types):
            return np.asarray(x)
        if device is None:
            self.synchronize()
            return self._download(x, None)
        with self.use_device(device):
            return self._download(x, self.stream(device))
