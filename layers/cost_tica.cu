// cost.tica: x (C, H, W, N); the window of pixel (r, q) covers rows r - size/2 ... + size - 1 and the
// same columns of its map, clipped to the image.
#include "common.cuh"

// Thread mapping: one thread per element: roots = sqrt(S + eps), S the window's sum of squares.
extern "C" __global__ void tica_roots(const float* __restrict__ x, float* __restrict__ roots, int C, int H, int W,
                                      int N, int size, float eps, int total) {
    int start = -(size / 2);
    FOR_EACH(i, total) {
        int n = i % N, t = i / N;
        int q = t % W; t /= W;
        int r = t % H, c = t / H;
        float acc = 0.0f;
        for (int rr = window_lo(r, start); rr < window_hi(r, start, size, H); ++rr)
            for (int qq = window_lo(q, start); qq < window_hi(q, start, size, W); ++qq) {
                float v = x[((c * H + rr) * W + qq) * N + n];
                acc += v * v;
            }
        roots[i] = sqrtf(acc + eps);
    }
}

// Thread mapping: one thread per element: dx = coeff x * (the sum of 1 / roots over the windows that
// hold it).
extern "C" __global__ void tica_backward(const float* __restrict__ x, const float* __restrict__ roots,
                                         float* __restrict__ dx, int C, int H, int W, int N, int size, float coeff,
                                         int total) {
    int start = -(size / 2);
    FOR_EACH(i, total) {
        int n = i % N, t = i / N;
        int q = t % W; t /= W;
        int r = t % H, c = t / H;
        float acc = 0.0f;
        for (int rr = covering_lo(r, start, size); rr < covering_hi(r, start, H); ++rr)
            for (int qq = covering_lo(q, start, size); qq < covering_hi(q, start, W); ++qq)
                acc += 1.0f / roots[((c * H + rr) * W + qq) * N + n];
        dx[i] = coeff * x[i] * acc;
    }
}
