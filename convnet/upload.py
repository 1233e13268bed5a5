"""The batch's arrays to the GPUs: once per physical device and pass, from pinned host memory, on a
copy stream of its own, so that the upload of the next batch runs while the previous step computes.

Two slots alternate between passes, each with, per data array and physical device, a pinned host
buffer and a device buffer. Pass N fills slot N % 2, whose last readers were pass N - 2's layers:

- the host writes the pinned buffer after the copy that read it in pass N - 2 is done (normally long
  ago: the host waits only when it is two passes ahead of the copy engine);
- the copy stream waits for events recorded on every compute stream when pass N - 1 began, which
  follow everything pass N - 2 issued (its forward and backward both read the images), and not pass
  N - 1's work: the copy overlaps it;
- each logical device's stream waits for the copy before its layers read the array; logical devices
  on one physical device share the one upload.
"""
import weakref

import numpy as np

SLOTS = 2


class _Staging:
    def __init__(self, backend, physical, shape):
        self.shape = shape
        self.pinned = backend._pinned_empty(shape, np.float32)
        with backend.use_stream(physical, backend.copy_stream(physical)):
            self.array = backend.empty(shape)
        self.copied = None            # the event after the last copy from pinned


class Uploader:
    def __init__(self, backend, devices):
        self.be, self.devices = backend, devices
        self.passes = 0
        self.fences = {}              # slot -> events on every compute stream, recorded a pass before its use
        self.staging = {}             # (physical, name, slot) -> _Staging
        self.uploaded = {}            # (physical, name) -> (array, event) of this pass
        # When the net goes, its device buffers go back to the copy stream's pool: only after every
        # compute stream has passed what it has issued so far.
        weakref.finalize(self, _retire, backend, devices, self.staging)

    def new_pass(self):
        """A forward pass begins: fence the compute streams for the slot the next pass will fill."""
        self.passes += 1
        self.uploaded = {}
        self.fences[(self.passes + 1) % SLOTS] = [self.be._record(self.be.stream(d)) for d in self.devices]

    def get(self, name, x, device):
        """The host array x (data layer `name`'s) on logical device `device`, its stream ordered after the copy."""
        key = (device.physical, name)
        if key not in self.uploaded:
            self.uploaded[key] = self._upload(name, x, device.physical)
        array, copied = self.uploaded[key]
        self.be._wait(self.be.stream(device), copied)
        return array

    def _upload(self, name, x, physical):
        be, slot = self.be, self.passes % SLOTS
        x = np.ascontiguousarray(x, dtype=np.float32)
        copy_stream = be.copy_stream(physical)
        for event in self.fences.get(slot, []):
            be._wait(copy_stream, event)             # this slot's last readers are done
        staging = self.staging.get((physical, name, slot))
        if staging is not None and staging.copied is not None:
            be._host_wait(staging.copied)           # the pinned buffer's last copy is done
        if staging is None or staging.shape != x.shape:
            staging = self.staging[physical, name, slot] = _Staging(be, physical, x.shape)
        be._host_write(staging.pinned, x)
        be._upload_async(staging.array, staging.pinned, copy_stream)
        staging.copied = be._record(copy_stream)
        return staging.array, staging.copied


def _retire(backend, devices, staging):
    arrays = [s.array for s in staging.values()]
    for device in devices:
        backend._keep_until_passed(arrays, backend.stream(device))
