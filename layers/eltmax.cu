// eltmax: elementwise maximum of the inputs, and its gradient (ties share). One thread per element.
#include "common.cuh"

// y = max(y, x): applied once per input after the first
extern "C" __global__ void eltmax_forward(const float* __restrict__ x, float* __restrict__ y, int n) {
    FOR_EACH(i, n) y[i] = fmaxf(y[i], x[i]);
}

extern "C" __global__ void eltmax_backward(const float* __restrict__ x, const float* __restrict__ y,
                                           const float* __restrict__ dy, float* __restrict__ dx, int n) {
    FOR_EACH(i, n) dx[i] = x[i] == y[i] ? dy[i] : 0.0f;
}
