// hs, dropout, dropout2: out = in * scale where u(key, i) < keep, else 0, with u the counter-based
// uniform of convnet/random.py (the same numbers as NumPy draws). The forward and the backward apply
// the same mask, made again from the key. Thread mapping: one thread per element.
#include "common.cuh"
#include "random.cuh"

extern "C" __global__ void dropout_apply(const float* __restrict__ in, float* __restrict__ out, unsigned int key,
                                         float keep, float scale, int n) {
    FOR_EACH(i, n) {
        out[i] = uniform01(key, i) < keep ? in[i] * scale : 0.0f;
    }
}
