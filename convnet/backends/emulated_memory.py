"""The emulated backend's device memory: NumPy arrays whose every use is checked for stream order.

DeviceArray is an ndarray that belongs to a Buffer (ordering.py). NumPy operations on it (ufuncs,
array functions, item assignment, copy, astype) run at once, as NumPy's, and are recorded as
operations on the current stream: the stream of the logical device whose context is entered
(`stream_context`), or the null stream outside any, as CuPy does. Their results are new buffers
from the current stream's pool. A plain ndarray is host memory: the kernels refuse it, as CuPy's do.
"""
import contextlib
import threading
import weakref

import numpy as np

from .ordering import Buffer, Ordering

ORDERING = Ordering()
_local = threading.local()


def current_stream():
    stack = getattr(_local, "streams", None)
    return stack[-1] if stack else ORDERING.null


@contextlib.contextmanager
def stream_context(stream):
    stack = _local.__dict__.setdefault("streams", [])
    stack.append(stream)
    try:
        yield
    finally:
        stack.pop()


def buffer_of(x):
    return getattr(x, "_buffer", None) if isinstance(x, DeviceArray) else None


def adopt(plain, what, stream=None):
    """A new DeviceArray over freshly allocated host memory `plain`, allocated on stream's pool."""
    stream = stream or current_stream()
    buf = Buffer(stream, plain.shape, what)
    weakref.finalize(plain, ORDERING.free, buf)
    out = plain.view(DeviceArray)
    out._buffer = buf
    return out


def empty(shape, dtype=np.float32, what="empty"):
    """New device memory, filled with NaN (the lowest integer for an integer type): where a GPU would
    give whatever was there, a kernel or GEMM that reads memory nobody wrote shows in its results."""
    plain_array = np.empty(shape, dtype=dtype)
    plain_array.fill(np.nan if plain_array.dtype.kind == "f" else np.iinfo(plain_array.dtype).min)
    return adopt(plain_array, what)


def plain(x):
    """The ndarray under a DeviceArray (the same memory), for NumPy to compute on."""
    return x.view(np.ndarray) if isinstance(x, DeviceArray) else x


def _flatten(values):
    for v in values:
        if isinstance(v, (list, tuple)):
            yield from _flatten(v)
        else:
            yield v


def _overlap(a, b):
    return np.may_share_memory(plain(a), plain(b))


def _shares(result, inputs):
    return any(isinstance(x, np.ndarray) and _overlap(result, x) for x in inputs)


class DeviceArray(np.ndarray):
    """An array in emulated device memory (see the module's docstring)."""

    _buffer = None

    def __array_finalize__(self, obj):
        # A view shares its base's buffer; an array NumPy allocated anew gets one when first used.
        source = getattr(obj, "_buffer", None)
        self._buffer = source if source is not None and _overlap(self, obj) else None

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        what = f"{ufunc.__name__}.{method}" if method != "__call__" else ufunc.__name__
        outs = out or ()
        writes = list(outs) + ([inputs[0]] if method == "at" else [])
        results = run_op(what, list(inputs), writes,
                       lambda: getattr(ufunc, method)(*map(plain, inputs),
                                                      **({"out": tuple(map(plain, outs))} if outs else {}), **kwargs))
        if outs:
            return outs[0] if len(outs) == 1 else outs
        return results

    def __array_function__(self, func, types, args, kwargs):
        what = getattr(func, "__name__", "array function")
        out = kwargs.get("out")
        writes = [out] if out is not None else []
        if func is np.copyto:
            writes.append(args[0] if args else kwargs["dst"])
        values = list(_flatten(args)) + list(_flatten(kwargs.values()))
        pure = tuple(plain(a) if not isinstance(a, (list, tuple)) else type(a)(_flatten_plain(a)) for a in args)
        pure_kwargs = {k: plain(v) if not isinstance(v, (list, tuple)) else type(v)(_flatten_plain(v))
                       for k, v in kwargs.items()}
        result = run_op(what, values, writes, lambda: func(*pure, **pure_kwargs), views_of=values)
        if out is not None:
            return out
        return result

    def __setitem__(self, key, value):
        run_op("setitem", [value], [self], lambda: plain(self).__setitem__(key, plain(value)))

    def __getitem__(self, key):
        result = plain(self)[key]
        if not isinstance(result, np.ndarray):
            ORDERING.host_read(self._buffer, "an element read")
            return result
        if _overlap(result, self):
            view = result.view(DeviceArray)
            view._buffer = self._buffer
            return view
        return run_op("fancy indexing", [self], [], lambda: result)

    def copy(self, order="C"):
        return run_op("copy", [self], [], lambda: plain(self).copy(order))

    def astype(self, dtype, *args, **kwargs):
        return run_op("astype", [self], [], lambda: plain(self).astype(dtype, *args, **kwargs))

    def fill(self, value):
        run_op("fill", [], [self], lambda: plain(self).fill(value))

    def get(self, stream=None):
        """The host copy (CuPy's ndarray.get): on stream (the current one by default), waited for."""
        stream = stream or current_stream()
        ORDERING.op(stream, "a copy to the host", reads=[self._buffer])
        ORDERING.synchronize(stream)
        ORDERING.host_read(self._buffer, "a copy to the host")
        return np.array(plain(self))


def _flatten_plain(values):
    return [plain(v) if not isinstance(v, (list, tuple)) else type(v)(_flatten_plain(v)) for v in values]


def run_op(what, reads, writes, compute, views_of=None):
    """Record an operation on the current stream, run it, and give its new arrays their buffers."""
    reads_b = [_tracked(x, what) for x in reads if isinstance(x, DeviceArray)]
    writes_b = [_tracked(x, what) for x in writes if isinstance(x, DeviceArray)]
    stream = current_stream()
    t = ORDERING.op(stream, what, reads_b, writes_b)
    result = compute()
    return _wrap(result, what, stream, t, views_of if views_of is not None else reads)


def _wrap(result, what, stream, t, inputs):
    if isinstance(result, tuple):
        return tuple(_wrap(r, what, stream, t, inputs) for r in result)
    if not isinstance(result, np.ndarray) or isinstance(result, DeviceArray):
        return result
    for x in inputs:              # a view of an input (reshape, transpose...): the input's buffer
        if isinstance(x, DeviceArray) and _overlap(result, x):
            view = result.view(DeviceArray)
            view._buffer = x._buffer
            return view
    if _shares(result, [x for x in inputs if isinstance(x, np.ndarray)]):
        return result                # a view of host memory stays host memory
    new = adopt(result, what, stream)
    new._buffer.write = (stream, t, what)
    return new


def _tracked(x, what):
    """x's buffer; an array NumPy made without telling us (a method we do not wrap) gets one now."""
    if x._buffer is None:
        x._buffer = Buffer(current_stream(), x.shape, what)
    return x._buffer


def round_to_tf32(x):
    """x with its float32 mantissa rounded to TF32's 10 bits (to nearest, ties away), a new array."""
    bits = np.ascontiguousarray(plain(x), dtype=np.float32).view(np.uint32)
    rounded = ((bits + np.uint32(0x1000)) & np.uint32(0xFFFFE000)).view(np.float32)
    return run_op("a TF32 rounding", [x], [], lambda: rounded)


class _XP:
    """The emulated backend's xp: NumPy, with the functions that create arrays from host data making
    device arrays (as cupy.asarray does) on the current stream."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def asarray(x, dtype=None):
        if isinstance(x, DeviceArray) and (dtype is None or np.dtype(dtype) == x.dtype):
            return x
        if isinstance(x, DeviceArray):
            return x.astype(dtype)
        host = np.array(x, dtype=dtype)
        return run_op("a copy from the host", [], [], lambda: host)

    array = asarray

    @staticmethod
    def ascontiguousarray(x, dtype=None):
        if isinstance(x, DeviceArray):
            x = x if dtype is None else x.astype(dtype)
            return x if x.flags.c_contiguous else x.copy()
        return _XP.asarray(np.ascontiguousarray(x, dtype=dtype))

    @staticmethod
    def zeros(shape, dtype=np.float32):
        out = empty(shape, dtype, what="zeros")
        out.fill(0)
        return out

    @staticmethod
    def empty(shape, dtype=np.float32):
        return empty(shape, dtype)


XP = _XP()
