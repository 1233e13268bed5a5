// cost.rflickr: targets t and outputs y, elementwise. Thread mapping: one thread per element.
#include "common.cuh"

extern "C" __global__ void rflickr_terms(const float* __restrict__ t, const float* __restrict__ y,
                                         float* __restrict__ terms, int n) {
    FOR_EACH(i, n) {
        float d = y[i] - t[i];
        terms[i] = log1pf(d * d);
    }
}

extern "C" __global__ void rflickr_backward(const float* __restrict__ t, const float* __restrict__ y,
                                            float* __restrict__ grad, float coeff, int n) {
    FOR_EACH(i, n) {
        float d = y[i] - t[i];
        grad[i] = coeff * 2.0f * d / (1.0f + d * d);
    }
}
