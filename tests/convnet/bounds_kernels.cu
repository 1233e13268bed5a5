// Kernels that reach past their arrays on purpose, for tests/convnet/test_emulated_bounds.py: the
// emulated backend's guard pages must catch each and name the thread, the argument and the element.
#include "common.cuh"

// out[i] = x[i + shift]: shift 1 reads one element past x's end, shift -1 one before its start.
extern "C" __global__ void shifted_copy(const float* x, float* out, int n, int shift) {
    FOR_EACH(i, n) out[i] = x[i + shift];
}

// out[i + shift] = x[i]: a write past out's end or before its start.
extern "C" __global__ void shifted_store(const float* x, float* out, int n, int shift) {
    FOR_EACH(i, n) out[i + shift] = x[i];
}

// dst[i] = src[i] one thread after the other: where dst is src moved by one element (two views of one
// array), each thread reads what the thread before it wrote, as on a device where they alias.
extern "C" __global__ void serial_copy(const float* src, float* dst, int n) {
    if (blockIdx.x == 0 && threadIdx.x == 0)
        for (int i = 0; i < n; ++i) dst[i] = src[i];
}

// After a barrier (so the block's threads run as fibers), out[t] = s[63 - t] + x[t + shift]: with
// shift 1, thread 63 reads x[64], past the end of x's 64 elements, from its fiber's stack.
extern "C" __global__ void reversed_through_shared(const float* x, float* out, int shift) {
    __shared__ float s[64];
    int t = threadIdx.x;
    s[t] = x[t];
    __syncthreads();
    out[blockIdx.x * 64 + t] = s[63 - t] + x[t + shift];
}

// out[i] += x[i]: right on an output that holds a sum already, wrong on new memory.
extern "C" __global__ void accumulate(const float* x, float* out, int n) {
    FOR_EACH(i, n) out[i] += x[i];
}
