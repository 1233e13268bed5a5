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

// The gradient of cost.logreg's -coeff * sum_n log y[label_n, n] with respect to the softmax's input,
// in one step: coeff * (y - onehot(label)). It never divides by y, so it stays finite where a
// probability underflows to 0 in float32 (src/layer_kernels.cu, kLogregSoftmaxGrad, did the same).
// Thread mapping: one thread per (class, image).
extern "C" __global__ void logreg_softmax_grad(const float* __restrict__ labels, const float* __restrict__ y,
                                               float* __restrict__ dx, int K, int N, float coeff) {
    FOR_EACH(i, K * N) {
        int n = i % N, k = i / N;
        dx[i] = coeff * (y[i] - ((int)labels[n] == k ? 1.0f : 0.0f));
    }
}
