"""Counter-based random numbers: the same values from NumPy and from the CUDA kernels.

u(key, i) = (fmix32(i * 0x9E3779B9 + key) >> 8) / 2^24, a float in [0, 1) exact in float32, where
fmix32 is MurmurHash3's finalizer and key mixes the run's seed, the layer and the training step. A
mask therefore depends only on (seed, layer, step, index): it is the same on every backend and
device, and a resumed run draws exactly what the uninterrupted one would have. random.cuh has the
twins for the kernels.
"""
import zlib

import numpy as np

MASK32 = 0xFFFFFFFF
GOLDEN = 0x9E3779B9


def fmix32_int(h):
    h &= MASK32
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & MASK32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & MASK32
    h ^= h >> 16
    return h


def fmix32(h):
    """fmix32 on a uint32 array, in place (uint32 array arithmetic wraps modulo 2^32)."""
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def mix_key(*words):
    """A 32-bit key from integers (seed, layer id, step ...)."""
    key = 0
    for w in words:
        key = fmix32_int(key ^ fmix32_int(w & MASK32) ^ (w >> 32 & MASK32))
    return key


def name_id(name):
    return zlib.crc32(name.encode("utf-8"))


def uniform(key, n):
    """n floats in [0, 1): u(key, 0), ..., u(key, n-1), as float32."""
    h = np.arange(n, dtype=np.uint32)
    h *= np.uint32(GOLDEN)
    h += np.uint32(key)
    fmix32(h)
    return (h >> np.uint32(8)).astype(np.float32) * np.float32(1.0 / 16777216.0)


def second_key(key):
    """The key of a second, independent stream (for the normal's second uniform)."""
    return mix_key(key, 0x5EC0)


def normal(key, n):
    """n standard normals, float32, by Box-Muller from u(key, i) and u(second_key(key), i), computed in
    float32 as random.cuh's normal01 computes them."""
    u1, u2 = uniform(key, n), uniform(second_key(key), n)
    r = np.sqrt(np.float32(-2) * np.log(np.float32(1) - u1))
    return r * np.cos(np.float32(6.2831853071795865) * u2)
