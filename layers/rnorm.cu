// rnorm: y = x * d^-pow, d = minDiv + s * sum of x^2 over the size x size window of pixels around each
// pixel of its map (rows r - size/2 ... r - size/2 + size - 1, the same for columns, clipped).
// The twin of rnorm.py; arrays are (C, H, W, N). Thread mapping: one thread per element.
#include "common.cuh"

extern "C" __global__ void rnorm_forward(const float* __restrict__ x, float* __restrict__ y, float* __restrict__ d,
                                         int C, int H, int W, int N, int size, float s, float min_div, float power,
                                         int total) {
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
        float den = min_div + s * acc;
        d[i] = den;
        y[i] = x[i] * powf(den, -power);
    }
}

// dx = dy d^-pow - 2 s pow x * (sum of r over the windows that hold the pixel), r = dy x d^(-pow-1).
extern "C" __global__ void rnorm_backward(const float* __restrict__ x, const float* __restrict__ dy,
                                          const float* __restrict__ d, const float* __restrict__ r,
                                          float* __restrict__ dx, int C, int H, int W, int N, int size, float s,
                                          float power, int total) {
    int start = -(size / 2);
    FOR_EACH(i, total) {
        int n = i % N, t = i / N;
        int q = t % W; t /= W;
        int row = t % H, c = t / H;
        float acc = 0.0f;
        for (int rr = covering_lo(row, start, size); rr < covering_hi(row, start, H); ++rr)
            for (int qq = covering_lo(q, start, size); qq < covering_hi(q, start, W); ++qq)
                acc += r[((c * H + rr) * W + qq) * N + n];
        dx[i] = dy[i] * powf(d[i], -power) - 2.0f * s * power * x[i] * acc;
    }
}
