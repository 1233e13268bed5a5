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

// Arrays the kernel declares, indexed past their sizes when `past` is 1: thread 63 writes s[64] of a
// __shared__ array of 64; with `past` 2, every thread reads element 4 of a local array of 4.
extern "C" __global__ void declared_arrays(const float* x, float* out, int past) {
    __shared__ __align__(16) float                     // a declaration over two lines keeps the lines after it
        s[64];
    float local[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    int t = threadIdx.x;
    s[t + (past == 1)] = x[t];                        // the __shared__ array
    __syncthreads();
    out[t] = s[t] + local[past == 2 ? 4 : t % 4];  // the local array
}
