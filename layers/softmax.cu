// softmax over the K classes of each of N images; x and y are (K, N).
// Thread mapping: one thread per image, looping over its K values (coalesced: neighbouring threads read
// neighbouring images).
#include "common.cuh"

extern "C" __global__ void softmax_forward(const float* __restrict__ x, float* __restrict__ y, int K, int N) {
    FOR_EACH(n, N) {
        float m = x[n];
        for (int k = 1; k < K; ++k) m = fmaxf(m, x[k * N + n]);
        float sum = 0.0f;
        for (int k = 0; k < K; ++k) {
            float e = expf(x[k * N + n] - m);
            y[k * N + n] = e;
            sum += e;
        }
        for (int k = 0; k < K; ++k) y[k * N + n] /= sum;
    }
}

// dx = y * (dy - sum_k dy_k y_k)
extern "C" __global__ void softmax_backward(const float* __restrict__ y, const float* __restrict__ dy,
                                            float* __restrict__ dx, int K, int N) {
    FOR_EACH(n, N) {
        float s = 0.0f;
        for (int k = 0; k < K; ++k) s += dy[k * N + n] * y[k * N + n];
        for (int k = 0; k < K; ++k) dx[k * N + n] = y[k * N + n] * (dy[k * N + n] - s);
    }
}
