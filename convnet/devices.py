"""Logical devices (a layer's gpu=N) and the one function through which arrays cross between them.

A net with layers on gpu=0..K-1 runs on K logical devices; --gpu maps them onto physical ones, several
logical devices possibly sharing one physical device. The numbers must not depend on the mapping.
"""


class Device:
    def __init__(self, index, backend, physical):
        self.index, self.backend, self.physical = index, backend, physical

    def activate(self):
        """A context in which allocations and launches go to this device (and, on the cuda backend,
        to this logical device's stream)."""
        return self.backend.use_device(self)

    def __repr__(self):
        return f"<logical device {self.index} on {self.backend.name}:{self.physical}>"


def make_devices(backend, count, physical=None):
    """count logical devices, logical i on physical[i % len(physical)]."""
    physical = list(physical) if physical else [backend.physical_devices()[0]]
    return [Device(i, backend, physical[i % len(physical)]) for i in range(count)]


def transfer(x, src, dst):
    """x (on device src, or on the host when src is None) as an array on device dst.

    The cuda backend makes this a peer-to-peer copy on the destination's stream; the CPU backends copy.
    """
    if src is dst:
        return x
    backend = dst.backend
    with dst.activate():
        if src is None:
            return backend.from_host(x, dst)
        return backend.copy(x, src, dst)
