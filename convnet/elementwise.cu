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

// quantF/quantB=half: v rounded to the nearest float16 value (ties to even, as numpy's astype(float16)
// and the GPU's __float2half_rn), computed without a half type so that the emulator runs it too.
__device__ __forceinline__ float half_rounded(float v) {
    float a = fabsf(v);
    if (!(a < 65520.0f)) return a != a ? v : copysignf(3.402823466e+38f * 2.0f, v);   // NaN; beyond the largest half: inf
    int e;
    frexpf(a, &e);                                     // a = m * 2^e, m in [0.5, 1)
    float q = ldexpf(1.0f, (e - 1 < -14 ? -14 : e - 1) - 10);   // the spacing of halves around a
    return copysignf(rintf(a / q) * q, v);
}

extern "C" __global__ void round_to_half(const float* __restrict__ x, float* __restrict__ out, int n) {
    FOR_EACH(i, n) out[i] = half_rounded(x[i]);
}

// out (K, N): the one-hot rows of the class numbers in labels (1, N).
extern "C" __global__ void one_hot(const float* __restrict__ labels, float* __restrict__ out, int N, int total) {
    FOR_EACH(i, total) out[i] = (int)labels[i % N] == i / N ? 1.0f : 0.0f;
}
