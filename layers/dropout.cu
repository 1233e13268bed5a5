// hs, dropout, dropout2: out = in * scale where u(key, i) < keep, else 0, with u the counter-based
// uniform of convnet/random.py (the same numbers as NumPy draws). The forward and the backward apply
// the same mask, made again from the key. Thread mapping: one thread per element.
#include "common.cuh"

__device__ __forceinline__ unsigned int fmix32(unsigned int h) {
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

extern "C" __global__ void dropout_apply(const float* __restrict__ in, float* __restrict__ out, unsigned int key,
                                         float keep, float scale, int n) {
    FOR_EACH(i, n) {
        float u = (float)(fmix32((unsigned int)i * 0x9E3779B9u + key) >> 8) * (1.0f / 16777216.0f);
        out[i] = u < keep ? in[i] * scale : 0.0f;
    }
}
