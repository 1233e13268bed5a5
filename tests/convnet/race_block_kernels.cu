// Kernels whose threads share memory and wait for each other, for tests/convnet/test_emulated_races.py:
// with a barrier where one is needed they have no race; without it, the race check must name the
// shared variable, the element and both threads.
#include "common.cuh"

// out[t] = x[(t + 1) % n]: each thread puts x[t] in shared memory and reads its neighbour's, with a
// __syncthreads between when `barrier` is 1 (every thread of the block, or none).
extern "C" __global__ void neighbour_through_shared(const float* x, float* out, int barrier) {
    __shared__ float s[64];
    int t = threadIdx.x, n = blockDim.x;
    s[t] = x[blockIdx.x * n + t];
    if (barrier) __syncthreads();
    out[blockIdx.x * n + t] = s[(t + 1) % n];
}

// The same through dynamic shared memory.
extern "C" __global__ void neighbour_through_dynamic(const float* x, float* out, int barrier) {
    extern __shared__ float d[];
    int t = threadIdx.x, n = blockDim.x;
    d[t] = x[t];
    if (barrier) __syncthreads();
    out[t] = d[(t + 1) % n];
}

// out[t] = x[t ^ distance] through shared memory, with a __syncwarp between: enough where the partner is
// in the thread's own warp (distance under 32), not where it is in another (distance 32).
extern "C" __global__ void partner_after_syncwarp(const float* x, float* out, int distance) {
    __shared__ float s[64];
    int t = threadIdx.x;
    s[t] = x[t];
    __syncwarp();
    out[t] = s[t ^ distance];
}

// Each thread adds its x to row 0 of s after a barrier, then the block writes the sum: every add is
// atomic, so the adds do not race; the read of the total after a second barrier does not either.
extern "C" __global__ void shared_atomic_sum(const float* x, float* out) {
    __shared__ float total[1];
    if (threadIdx.x == 0) total[0] = 0.0f;
    __syncthreads();
    atomicAdd(&total[0], x[threadIdx.x]);
    __syncthreads();
    if (threadIdx.x == 0) out[blockIdx.x] = total[0];
}

// Every thread reads s[0], then thread 0 writes it, after a __syncwarp (barrier 0) or a __syncthreads
// (barrier 1): the __syncwarp orders the other lanes of thread 0's warp before the write, not the
// other warp's.
extern "C" __global__ void read_then_overwrite(const float* x, float* out, int barrier) {
    __shared__ float s[1];
    if (threadIdx.x == 0) s[0] = x[0];
    __syncthreads();
    out[threadIdx.x] = s[0];
    if (barrier) __syncthreads();
    else __syncwarp();
    if (threadIdx.x == 0) s[0] = 0.0f;
}

// Every thread adds 1 to count[0]; after a __syncthreads, thread 0 of the last block reads it: ordered
// after its own block's adds, not after another block's.
extern "C" __global__ void count_then_read(int* count, int* seen) {
    atomicAdd(count, 1);
    __syncthreads();
    if (threadIdx.x == 0 && blockIdx.x == gridDim.x - 1) seen[0] = *count;
}
