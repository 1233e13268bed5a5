// cost.crossent2: targets t and outputs y, elementwise. Thread mapping: one thread per element.
#include "common.cuh"

__device__ __forceinline__ float safelog(float x) { return x > 0.0f ? logf(x) : -50.0f; }

// terms[i] = -(t log y + (1 - t) log(1 - y)); their sum (a GEMM with ones) is the cost.
extern "C" __global__ void crossent2_terms(const float* __restrict__ t, const float* __restrict__ y,
                                           float* __restrict__ terms, int n) {
    FOR_EACH(i, n) terms[i] = -(t[i] * safelog(y[i]) + (1.0f - t[i]) * safelog(1.0f - y[i]));
}

extern "C" __global__ void crossent2_backward(const float* __restrict__ t, const float* __restrict__ y,
                                              float* __restrict__ grad, float coeff, int n) {
    FOR_EACH(i, n) grad[i] = coeff * ((1.0f - t[i]) / (1.0f - y[i]) - t[i] / y[i]);
}

// The gradient through a logistic y = 1 / (1 + e^-x) in one step: no division by y or 1 - y.
extern "C" __global__ void crossent2_logistic_grad(const float* __restrict__ t, const float* __restrict__ y,
                                                   float* __restrict__ dx, float coeff, int n) {
    FOR_EACH(i, n) dx[i] = coeff * (y[i] - t[i]);
}
