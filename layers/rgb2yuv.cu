// rgb2yuv: out (3, P) = M in (3, P) at each of the P = H * W * N pixels, or M^T in with transpose = 1
// (the backward). M is rgb2yuv.py's YUV. Thread mapping: one thread per pixel.
#include "common.cuh"

extern "C" __global__ void rgb2yuv_apply(const float* __restrict__ in, float* __restrict__ out, int transpose,
                                         int plane) {
    const float m[9] = {0.2126f, 0.7152f, 0.0722f, -0.09991f, -0.33609f, 0.436f, 0.615f, -0.55861f, -0.05639f};
    FOR_EACH(p, plane) {
        float a = in[p], b = in[plane + p], c = in[2 * plane + p];
        for (int r = 0; r < 3; ++r) {
            float m0 = transpose ? m[r] : m[3 * r], m1 = transpose ? m[3 + r] : m[3 * r + 1];
            float m2 = transpose ? m[6 + r] : m[3 * r + 2];
            out[r * plane + p] = m0 * a + m1 * b + m2 * c;
        }
    }
}
