// rgb2lab: in (3, P) RGB to (3, P) L*a*b* at each of the P = H * W * N pixels (rgb2lab.py has the
// formula and constants). Thread mapping: one thread per pixel.
#include "common.cuh"

__device__ __forceinline__ float lab_f(float t) {
    return t > 0.0088564517f ? powf(t, 0.3333f) : 7.787037f * t + 0.13793103f;
}

__device__ __forceinline__ float lab_df(float t) {
    return t > 0.0088564517f ? 0.3333f * powf(t, 0.3333f - 1.0f) : 7.787037f;
}

__device__ __forceinline__ void rgb_to_xyz(float r, float g, float b, float* xyz) {
    xyz[0] = 0.49f * r + 0.31f * g + 0.2f * b;
    xyz[1] = 0.17697f * r + 0.8124f * g + 0.01063f * b;
    xyz[2] = 0.0f * r + 0.01f * g + 0.99f * b;
}

extern "C" __global__ void rgb2lab_forward(const float* __restrict__ x, float* __restrict__ y, int center, int plane) {
    FOR_EACH(p, plane) {
        float xyz[3];
        rgb_to_xyz(x[p], x[plane + p], x[2 * plane + p], xyz);
        float fx = lab_f(xyz[0]), fy = lab_f(xyz[1]), fz = lab_f(xyz[2]);
        y[p] = 116.0f * fy - (center ? 66.0f : 16.0f);
        y[plane + p] = 500.0f * (fx - fy);
        y[2 * plane + p] = 200.0f * (fy - fz);
    }
}

extern "C" __global__ void rgb2lab_backward(const float* __restrict__ x, const float* __restrict__ dy,
                                            float* __restrict__ dx, int plane) {
    FOR_EACH(p, plane) {
        float xyz[3];
        rgb_to_xyz(x[p], x[plane + p], x[2 * plane + p], xyz);
        float dL = dy[p], da = dy[plane + p], db = dy[2 * plane + p];
        float gx = 500.0f * da * lab_df(xyz[0]);
        float gy = (116.0f * dL - 500.0f * da + 200.0f * db) * lab_df(xyz[1]);
        float gz = -200.0f * db * lab_df(xyz[2]);
        dx[p] = 0.49f * gx + 0.17697f * gy + 0.0f * gz;
        dx[plane + p] = 0.31f * gx + 0.8124f * gy + 0.01f * gz;
        dx[2 * plane + p] = 0.2f * gx + 0.01063f * gy + 0.99f * gz;
    }
}
