// Small elementwise kernels that several layers share. Thread mapping: one thread per element.
#include "common.cuh"

// out[i] = value
extern "C" __global__ void fill(float* out, float value, int n) {
    FOR_EACH(i, n) out[i] = value;
}

// out[i] = alpha * x[i]
extern "C" __global__ void scale(const float* __restrict__ x, float* __restrict__ out, float alpha, int n) {
    FOR_EACH(i, n) out[i] = alpha * x[i];
}

// y[i] = a * x[i] + b * y[i]
extern "C" __global__ void axpby(const float* __restrict__ x, float* __restrict__ y, float a, float b, int n) {
    FOR_EACH(i, n) y[i] = a * x[i] + b * y[i];
}

// y (F, P, N) += biases: b[f] when shared by the P positions, b[f, p] when not.
extern "C" __global__ void bias_add(float* __restrict__ y, const float* __restrict__ b, int P, int N,
                                    int per_position, int total) {
    FOR_EACH(i, total) {
        int fp = i / N;
        y[i] += per_position ? b[fp] : b[fp / P];
    }
}

// out (B, A, N) = in (A, B, N) with the two outer axes swapped (local layers: positions <-> filters).
extern "C" __global__ void swap_outer(const float* __restrict__ in, float* __restrict__ out, int A, int B, int N,
                                      int total) {
    FOR_EACH(i, total) {
        int n = i % N, t = i / N;
        int a = t % A, b = t / A;                    // i indexes out: (b, a, n)
        out[i] = in[(a * B + b) * N + n];
    }
}

// The norm layers' backward ratio: r = dy * x * d^(-pow-1).
extern "C" __global__ void norm_ratio(const float* __restrict__ x, const float* __restrict__ dy,
                                      const float* __restrict__ d, float* __restrict__ r, float power, int n) {
    FOR_EACH(i, n) r[i] = dy[i] * x[i] * powf(d[i], -power - 1.0f);
}
