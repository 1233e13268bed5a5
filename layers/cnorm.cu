// cnorm: m = x - (mean of x over the window), d = minDiv + s * sum of m^2 over the window, y = x * d^-pow,
// with rnorm's windows (size x size pixels from row - size/2, clipped; the mean divides by the in-bounds
// count). The twin of cnorm.py; arrays are (C, H, W, N). Thread mapping: one thread per element.
#include "common.cuh"

__device__ __forceinline__ float window_count(int row, int col, int start, int size, int H, int W) {
    return (float)((window_hi(row, start, size, H) - window_lo(row, start)) *
                   (window_hi(col, start, size, W) - window_lo(col, start)));
}

// The sum of a over the window of pixel (row, col) in map c of image n; or, if `covering`, over the pixels
// whose windows hold (row, col), each term divided by its own window's count when `per_count`.
__device__ float window_sum(const float* a, int c, int row, int col, int n, int H, int W, int N, int size,
                            int covering, int per_count) {
    int start = -(size / 2);
    int r0 = covering ? covering_lo(row, start, size) : window_lo(row, start);
    int r1 = covering ? covering_hi(row, start, H) : window_hi(row, start, size, H);
    int c0 = covering ? covering_lo(col, start, size) : window_lo(col, start);
    int c1 = covering ? covering_hi(col, start, W) : window_hi(col, start, size, W);
    float acc = 0.0f;
    for (int rr = r0; rr < r1; ++rr)
        for (int cc = c0; cc < c1; ++cc) {
            float v = a[((c * H + rr) * W + cc) * N + n];
            acc += per_count ? v / window_count(rr, cc, start, size, H, W) : v;
        }
    return acc;
}

// i -> (c, row, col, n)
#define PIXEL(i) int n = (i) % N, t_ = (i) / N; int col = t_ % W; t_ /= W; int row = t_ % H, c = t_ / H;

// centred = x - window mean; squares = centred^2 (for the next kernel's window sums)
extern "C" __global__ void cnorm_centre(const float* __restrict__ x, float* __restrict__ centred,
                                        float* __restrict__ squares, int C, int H, int W, int N, int size,
                                        int total) {
    FOR_EACH(i, total) {
        PIXEL(i)
        float m = x[i] - window_sum(x, c, row, col, n, H, W, N, size, 0, 0) /
                         window_count(row, col, -(size / 2), size, H, W);
        centred[i] = m;
        squares[i] = m * m;
    }
}

extern "C" __global__ void cnorm_forward(const float* __restrict__ x, const float* __restrict__ squares,
                                         float* __restrict__ y, float* __restrict__ d, int C, int H, int W, int N,
                                         int size, float s, float min_div, float power, int total) {
    FOR_EACH(i, total) {
        PIXEL(i)
        float den = min_div + s * window_sum(squares, c, row, col, n, H, W, N, size, 0, 0);
        d[i] = den;
        y[i] = x[i] * powf(den, -power);
    }
}

// dcentred = -2 s pow m * (sum of ratio over the windows holding the pixel), ratio = dy x d^(-pow-1)
extern "C" __global__ void cnorm_backward_centred(const float* __restrict__ centred, const float* __restrict__ ratio,
                                                  float* __restrict__ dcentred, int C, int H, int W, int N, int size,
                                                  float s, float power, int total) {
    FOR_EACH(i, total) {
        PIXEL(i)
        dcentred[i] = -2.0f * s * power * centred[i] * window_sum(ratio, c, row, col, n, H, W, N, size, 1, 0);
    }
}

// dx = dy d^-pow + dcentred - (sum over the windows holding the pixel of dcentred / that window's count):
// the mean's adjoint.
extern "C" __global__ void cnorm_backward(const float* __restrict__ dy, const float* __restrict__ d,
                                          const float* __restrict__ dcentred, float* __restrict__ dx, int C, int H,
                                          int W, int N, int size, float power, int total) {
    FOR_EACH(i, total) {
        PIXEL(i)
        dx[i] = dy[i] * powf(d[i], -power) + dcentred[i] - window_sum(dcentred, c, row, col, n, H, W, N, size, 1, 1);
    }
}
