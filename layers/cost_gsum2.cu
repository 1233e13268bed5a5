// cost.gsum2: gates g (1, N), x (D, N).
#include "common.cuh"

// Thread mapping: one thread per image: out[n] = scale * g[n] * sum_d x[d, n]^2.
extern "C" __global__ void gsum2_squares(const float* __restrict__ x, const float* __restrict__ g,
                                         float* __restrict__ out, float scale, int D, int N) {
    FOR_EACH(n, N) {
        float acc = 0.0f;
        for (int d = 0; d < D; ++d) acc += x[d * N + n] * x[d * N + n];
        out[n] = scale * g[n] * acc;
    }
}

// Thread mapping: one thread per element: dx = 2 coeff g x.
extern "C" __global__ void gsum2_backward(const float* __restrict__ g, const float* __restrict__ x,
                                          float* __restrict__ dx, float coeff, int N, int total) {
    FOR_EACH(i, total) dx[i] = 2.0f * coeff * g[i % N] * x[i];
}
