"""Reading the 2012 code's pickles (its data batches, batches.meta, its checkpoints) without letting
them run code: an unpickler that builds only NumPy arrays and plain containers.

A pickle names the callables that rebuild its objects, and a plain unpickler calls whatever it names
(os.system among them). This one resolves only NumPy's array and scalar rebuilders, under their
Python 2 and NumPy 1.x names as under today's. With stand_ins, any other name (the options object
that a cuda-convnet checkpoint pickles beside its model) becomes an inert Stand-in that keeps the state
it is given and calls nothing; without, it is refused.
"""
import collections
import io
import pickle

import numpy as np

SAFE = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"),
    ("__builtin__", "object"), ("builtins", "object"),
}
# Python 2 and NumPy 1.x module names, as today's Python and NumPy have them
RENAMED = {"numpy.core.multiarray": "numpy._core.multiarray" if hasattr(np, "_core") else "numpy.core.multiarray",
           "copy_reg": "copyreg", "__builtin__": "builtins"}
CONTAINERS = {("collections", "OrderedDict"): collections.OrderedDict,
              ("ordereddict", "OrderedDict"): collections.OrderedDict}


class StandIn:
    """An object of a class the unpickler does not build: its name and whatever state it was given."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state):
        self.state = state

    def __reduce__(self):            # never pickled again as if it were the real thing
        raise pickle.PicklingError("a stand-in is not to be pickled")


def _stand_in(module, name):
    return type(name, (StandIn,), {"__module__": f"stand-in for {module}"})


class SafeUnpickler(pickle.Unpickler):
    def __init__(self, file, stand_ins=False):
        super().__init__(file, encoding="latin1")       # Python 2's str: bytes as they were
        self.stand_ins = stand_ins

    def find_class(self, module, name):
        if (module, name) in SAFE:
            return super().find_class(RENAMED.get(module, module), name)
        if (module, name) in CONTAINERS:
            return CONTAINERS[module, name]
        if self.stand_ins:
            return _stand_in(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def loads(data, stand_ins=False):
    return SafeUnpickler(io.BytesIO(data), stand_ins).load()
