// Kernels with races and without, for tests/convnet/test_emulated_races.py: the emulated backend's race
// check (CONVNET_EMULATED_RACECHECK=on) must name each race, both threads and the word, and stay quiet
// where nothing races. No barrier in this file: each block's threads run one after another, and every
// result below is the same in either order, so only the check can tell a race from none.
#include "common.cuh"

// Every thread writes element 0.
extern "C" __global__ void one_place(float* out) {
    out[0] = 1.0f;
}

// out[i] = x[i] + out[i - 1]: thread i reads what thread i - 1 writes.
extern "C" __global__ void prefix_step(const float* x, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    out[i] = x[i];
    if (i > 0) out[i] += out[i - 1] * 0.0f;      // a read of a neighbour's word that changes nothing
}

// Each block writes the same blockDim.x elements.
extern "C" __global__ void every_block_the_same(float* out) {
    out[threadIdx.x] = 2.0f;
}

// Every thread reads x[0] and writes its own element: reads alone never race.
extern "C" __global__ void broadcast(const float* x, float* out, int n) {
    FOR_EACH(i, n) out[i] = x[0] + i;
}

// Each thread counts itself into count[0] (atomicAdd, integers and floats): atomics never race with
// each other. With `read_back`, each also reads count[0] plainly after its add: that read races with
// the other threads' adds.
extern "C" __global__ void count_threads(int* count, float* total, int* seen, int read_back) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    atomicAdd(count, 1);
    atomicAdd(total, 1.0f);
    if (read_back) seen[t] = *count;
}

// Each thread sums 1..size in a scratch slice of its own, work[t * stride .. t * stride + size), and
// writes the sum: the slices overlap when stride < size, and the sums are still right one thread
// after another.
extern "C" __global__ void scratch_slices(float* work, float* out, int size, int stride) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    float* mine = work + t * stride;
    for (int k = 0; k < size; ++k) mine[k] = (float)(k + 1);
    float sum = 0.0f;
    for (int k = 0; k < size; ++k) sum += mine[k];
    out[t] = sum;
}

// dst[i] = src[i]: where dst and src are one array, dst from its element `shift` on, thread i writes the
// word thread i + shift reads (shift 1), or its own (shift 0, in place).
extern "C" __global__ void copy_over(const float* src, float* dst, int n) {
    FOR_EACH(i, n) dst[i] = src[i] * 1.0f;
}

// Thread 0 writes elements 0 and 1 in one 8-byte store, thread 1 element 1.
extern "C" __global__ void wide_store(float* out) {
    if (threadIdx.x == 0) *reinterpret_cast<unsigned long long*>(out) = 0ull;
    if (threadIdx.x == 1) out[1] = 1.0f;
}

// Every thread reads out[0] (and keeps it in out[1 + t]); thread 1 then writes it.
extern "C" __global__ void read_then_one_writes(float* out) {
    float v = out[0];
    out[1 + threadIdx.x] = v;
    if (threadIdx.x == 1) out[0] = v + 1.0f;
}

// Thread 0 reads total plainly; then every thread adds 1 to it atomically.
extern "C" __global__ void read_then_add(float* total, float* seen) {
    if (threadIdx.x == 0) seen[0] = *total;
    atomicAdd(total, 1.0f);
}
