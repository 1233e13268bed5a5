// cmrnorm: y = x * d^-pow, d = minDiv + s * sum of x^2 over the window of maps W(c). The twin of
// cmrnorm.py. Arrays are (C, Q) with Q = rows * cols * images: map c of element q is at c * Q + q.
// W(c) = [c - size/2, c - size/2 + size), or c's block of `size` maps when blocked, clipped to [0, C).
#include "common.cuh"

__device__ __forceinline__ int map_window_lo(int c, int size, int blocked) {
    return blocked ? c / size * size : c - size / 2;
}

// Thread mapping: one thread per element, summing its window (reads coalesce across q).
extern "C" __global__ void cmrnorm_forward(const float* __restrict__ x, float* __restrict__ y,
                                           float* __restrict__ d, int C, int Q, int size, int blocked, float s,
                                           float min_div, float power) {
    FOR_EACH(i, C * Q) {
        int c = i / Q, q = i % Q;
        int lo = map_window_lo(c, size, blocked);
        int hi = imin(lo + size, C);
        float acc = 0.0f;
        for (int j = imax(lo, 0); j < hi; ++j) {
            float v = x[j * Q + q];
            acc += v * v;
        }
        float den = min_div + s * acc;
        d[i] = den;
        y[i] = x[i] * powf(den, -power);
    }
}

// dx_j = dy_j d_j^-pow - 2 s pow x_j * sum of r_c over the maps c whose window holds j, with
// r = dy * x * d^(-pow-1) (elementwise.cu's norm_ratio). Blocked windows are their own transposes;
// otherwise c runs over [j + size/2 - size + 1, j + size/2]. Thread mapping: one thread per element.
extern "C" __global__ void cmrnorm_backward(const float* __restrict__ x, const float* __restrict__ dy,
                                            const float* __restrict__ d, const float* __restrict__ r,
                                            float* __restrict__ dx, int C, int Q, int size, int blocked, float s,
                                            float power) {
    FOR_EACH(i, C * Q) {
        int j = i / Q, q = i % Q;
        int lo = blocked ? j / size * size : j + size / 2 - size + 1;
        int hi = blocked ? lo + size : j + size / 2 + 1;
        float acc = 0.0f;
        for (int c = imax(lo, 0); c < imin(hi, C); ++c) acc += r[c * Q + q];
        dx[i] = dy[i] * powf(d[i], -power) - 2.0f * s * power * x[i] * acc;
    }
}
