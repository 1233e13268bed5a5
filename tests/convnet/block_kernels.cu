// Kernels whose threads share memory and wait for each other, for tests/convnet/test_emulated_blocks.py:
// each is run on the emulated backend (and on a GPU where there is one) against a result the test
// computes in NumPy. Some are wrong on purpose; the tests expect the emulator to say so.
#include "common.cuh"

#define THREADS 128

// The sum of each block's THREADS elements: a tree in shared memory, a barrier between the levels.
extern "C" __global__ void block_sums(const float* x, float* sums) {
    __shared__ float partial[THREADS];
    int t = threadIdx.x;
    partial[t] = x[blockIdx.x * THREADS + t];
    __syncthreads();
    for (int half = THREADS / 2; half > 0; half /= 2) {
        if (t < half) partial[t] += partial[t + half];
        __syncthreads();
    }
    if (t == 0) sums[blockIdx.x] = partial[0];
}

// The same without the barrier in the loop: a thread may read a partial sum before it is written.
extern "C" __global__ void racy_block_sums(const float* x, float* sums) {
    __shared__ float partial[THREADS];
    int t = threadIdx.x;
    partial[t] = x[blockIdx.x * THREADS + t];
    __syncthreads();
    for (int half = THREADS / 2; half > 0; half /= 2)
        if (t < half) partial[t] += partial[t + half];
    __syncthreads();
    if (t == 0) sums[blockIdx.x] = partial[0];
}

// out = x transposed, (rows, cols) -> (cols, rows), through a 16 x 16 tile: 2-D blocks, and each thread
// reads threadIdx again after the barrier (the emulator must give it back its own).
extern "C" __global__ void transpose(const float* x, float* out, int rows, int cols) {
    __shared__ float tile[16][17];
    int c = blockIdx.x * 16 + threadIdx.x, r = blockIdx.y * 16 + threadIdx.y;
    if (r < rows && c < cols) tile[threadIdx.y][threadIdx.x] = x[r * cols + c];
    __syncthreads();
    c = blockIdx.y * 16 + threadIdx.x, r = blockIdx.x * 16 + threadIdx.y;
    if (r < cols && c < rows) out[r * rows + c] = tile[threadIdx.x][threadIdx.y];
}

// Per warp of a 1-D block (the last warp may be partial; `lanes` = how many lanes it has), the warp
// operations on x: out holds 10 values per thread.
extern "C" __global__ void warp_ops(const float* x, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x, lane = threadIdx.x % 32;
    int first = threadIdx.x - lane, lanes = imin(32, blockDim.x - first);
    unsigned mask = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
    float v = i < n ? x[i] : 0.0f;
    float sum = v;                                        // the warp's sum, in every lane (butterfly)
    for (int d = 16; d > 0; d /= 2)
        if (lanes == 32) sum += __shfl_xor_sync(mask, sum, d);
    float down = v;                                       // lane 0 ends with the warp's sum
    for (int d = 16; d > 0; d /= 2) {
        float below = __shfl_down_sync(mask, down, d);    // undefined from a lane past a partial warp
        if (lane + d < lanes) down += below;
    }
    float scan = v;                                       // inclusive prefix sums within groups of 8
    for (int d = 1; d < 8; d *= 2) {
        float before = __shfl_up_sync(mask, scan, d, 8);
        if (lane % 8 >= d) scan += before;
    }
    float eight = v;                                      // the sum of each group of 8 lanes (butterfly)
    for (int d = 4; d > 0; d /= 2) eight += __shfl_xor_sync(mask, eight, d, 8);
    // Across groups of 8: a lane of an odd group reads the even group below it, a lane of an even
    // group would read a later group and gets its own value back.
    float across = __shfl_xor_sync(mask, v, 8, 8);
    float first_lane = __shfl_sync(mask, v, 0);           // lane 0's value
    float neighbour = __shfl_sync(mask, v, (lane + 1) % lanes);
    unsigned positive = __ballot_sync(mask, v > 0);
    int any = __any_sync(mask, v > 100), all = __all_sync(mask, v > -100);
    __syncwarp(mask);
    if (i < n) {
        float* o = out + 10 * i;
        o[0] = sum, o[1] = down, o[2] = scan, o[3] = first_lane, o[4] = neighbour;
        o[5] = (float)(positive & 0xffff), o[6] = (float)(positive >> 16), o[7] = (float)(any + 2 * all);
        o[8] = eight, o[9] = across;
    }
}

// One whole warp's shuffles where the source lane falls past the edge of its group (width 32 or 8):
// CUDA gives such a lane its own value back (shfl_down, shfl_up), or takes the source lane modulo the
// width (shfl). out holds 6 values per lane.
extern "C" __global__ void shuffles_at_the_edges(float* out) {
    unsigned all = 0xffffffffu;
    int lane = threadIdx.x;
    float v = 100.0f + lane;
    float* o = out + 6 * lane;
    o[0] = __shfl_down_sync(all, v, 3);
    o[1] = __shfl_down_sync(all, v, 3, 8);
    o[2] = __shfl_up_sync(all, v, 3);
    o[3] = __shfl_up_sync(all, v, 3, 8);
    o[4] = __shfl_sync(all, v, 37);
    o[5] = __shfl_sync(all, v, 9, 8);
}

// Wrong on purpose: each reached by tests that expect the emulator's message.
extern "C" __global__ void barrier_some_skip(float* out) {
    if (threadIdx.x < 16) __syncthreads();
    out[threadIdx.x] = 1.0f;
}

extern "C" __global__ void barriers_apart(float* out) {
    if (threadIdx.x % 2) {
        __syncthreads();        // odd threads
    } else {
        __syncthreads();        // even threads
    }
    out[threadIdx.x] = 1.0f;
}

// Even lanes shuffle on one line, odd lanes on another, each naming every lane: lane 0's shuffle waits
// for lane 1, which is in another warp operation.
extern "C" __global__ void warp_ops_apart(float* out) {
    float v = (float)threadIdx.x;
    if (threadIdx.x % 2) {
        v = __shfl_xor_sync(~0u, v, 3);             // odd lanes
    } else {
        v = __shfl_xor_sync(~0u, v, 1);             // even lanes
    }
    out[threadIdx.x] = v;
}

// On one line, odd lanes in one kind of shuffle and even lanes in another.
extern "C" __global__ void warp_op_kinds_apart(float* out) {
    float v = (float)threadIdx.x;
    out[threadIdx.x] = threadIdx.x % 2 ? __shfl_sync(~0u, v, 0) : __shfl_xor_sync(~0u, v, 1);
}

// One shuffle, its mask other in lane 0 (lanes 0 and 1) than in the others (every lane).
extern "C" __global__ void warp_masks_apart(float* out) {
    unsigned mask = threadIdx.x == 0 ? 0x3u : 0xffffffffu;
    out[threadIdx.x] = __shfl_xor_sync(mask, (float)threadIdx.x, 1);
}

// Lanes 8-15 read lanes 16-23, outside the mask: an undefined value (the emulator's is a NaN).
extern "C" __global__ void shuffle_outside_mask(float* out) {
    if (threadIdx.x < 16) out[threadIdx.x] = __shfl_down_sync(0x0000ffffu, (float)threadIdx.x, 8);
}

extern "C" __global__ void mask_without_own_lane(float* out) {
    if (threadIdx.x == 0) out[0] = __shfl_sync(0x2u, 1.0f, 1);
}

extern "C" __global__ void mask_past_the_block(float* out) {
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, (float)threadIdx.x, 1);
}

// Each block's values in reverse order, through dynamic shared memory of blockDim.x floats (the
// launch's `shared` bytes). With fewer bytes, the threads past them write outside it.
extern "C" __global__ void reverse_each_block(const float* x, float* out) {
    extern __shared__ float values[];
    int t = threadIdx.x, base = blockIdx.x * blockDim.x;
    values[t] = x[base + t];
    __syncthreads();
    out[base + t] = values[blockDim.x - 1 - t];
}

// Reads dynamic shared memory nobody wrote: undefined on a GPU, NaN on the emulator.
extern "C" __global__ void read_unwritten(float* out) {
    extern __shared__ __align__(16) float never_written[];
    out[threadIdx.x] = never_written[threadIdx.x];
}

// Static __shared__ memory a block reads before writing: threads below `written` write their slot of
// each variable; after the barrier every thread reads its slot back. Unwritten slots are undefined on
// a GPU and NaN (all bits set) on the emulator, never an earlier block's values.
extern "C" __global__ void read_static_shared(float* out, int* counts, int written) {
    __shared__ float slots[64];
    __shared__ __align__(16) float grid[2][32];
    __shared__ int count_slots[64];
    __shared__ float total;
    int t = threadIdx.x, base = blockIdx.x * 64;
    if (t < written) {
        slots[t] = (float)(base + t);
        grid[t / 32][t % 32] = (float)(base + t) + 0.5f;
        count_slots[t] = base + t;
    }
    if (t == 0 && written == 64) total = 7.0f;
    __syncthreads();
    out[3 * base + t] = slots[t];
    out[3 * base + 64 + t] = grid[t / 32][t % 32];
    out[3 * base + 128 + t] = t == 0 ? total : 0.0f;
    counts[base + t] = count_slots[t];
}

// index_kernels.cu's where_am_i, its threads run as fibers (the barrier): the same indices.
extern "C" __global__ void where_am_i_at_a_barrier(int* out, int* dims) {
    unsigned block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    unsigned thread = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    int* at = out + 6 * (block * blockDim.x * blockDim.y * blockDim.z + thread);
    at[0] = blockIdx.x, at[1] = blockIdx.y, at[2] = blockIdx.z;
    __syncthreads();
    at[3] = threadIdx.x, at[4] = threadIdx.y, at[5] = threadIdx.z;
    if (block == 0 && thread == 0) {
        dims[0] = gridDim.x, dims[1] = gridDim.y, dims[2] = gridDim.z;
        dims[3] = blockDim.x, dims[4] = blockDim.y, dims[5] = blockDim.z;
    }
}
