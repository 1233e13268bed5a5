// Atomic functions, for tests/convnet/test_emulated_atomics.py: every block of a launch updates the
// same few addresses, so on the emulator the blocks running at once on several CPU threads must not
// lose an update, and each call must return what the address held before it.
#include "common.cuh"

// counts[bins[i]] += 1, and total += x[i] (integer-valued, so exact in any order).
extern "C" __global__ void histogram_and_sum(const int* bins, const float* x, int* counts, float* total, int n) {
    FOR_EACH(i, n) {
        atomicAdd(&counts[bins[i]], 1);
        atomicAdd(total, x[i]);
    }
}

// The bitwise, min, max and subtracting ones over v[i]; results[0..5] start as the test sets them.
extern "C" __global__ void reductions(const int* v, int* results, int* bit_results, int n) {
    unsigned int* bits = (unsigned int*)bit_results;             // arrays from the host are int32
    FOR_EACH(i, n) {
        atomicMin(&results[0], v[i]);
        atomicMax(&results[1], v[i]);
        atomicSub(&results[2], v[i]);
        atomicXor(&results[3], v[i]);
        atomicOr(&bits[0], 1u << (i % 32));
        atomicAnd(&bits[1], ~(1u << (i % 31)));
        atomicMax(&bits[2], (unsigned int)i);
    }
}

// Each i claims slots[i % m] if nobody has (atomicCAS from -1) and swaps itself into last[0]
// (atomicExch): what each call returned goes to claimed[i] and swapped[i].
extern "C" __global__ void claims(int* slots, int* claimed, int* last, int* swapped, float* last_float,
                                  float* swapped_float, int m, int n) {
    FOR_EACH(i, n) {
        claimed[i] = atomicCAS(&slots[i % m], -1, i);
        swapped[i] = atomicExch(&last[0], i);
        swapped_float[i] = atomicExch(last_float, (float)i);
    }
}

// Each i adds 1 to a float and keeps what atomicAdd returned: the value before its add.
extern "C" __global__ void counted_float_adds(float* counter, float* seen, int n) {
    FOR_EACH(i, n) seen[i] = atomicAdd(counter, 1.0f);
}

// Counters that wrap: atomicInc up to `limit` then 0, atomicDec down to 0 then `limit`.
extern "C" __global__ void wrapping_counters(int* counters, int* seen_inc, int* seen_dec, unsigned int limit, int n) {
    FOR_EACH(i, n) {
        seen_inc[i] = (int)atomicInc((unsigned int*)&counters[0], limit);
        seen_dec[i] = (int)atomicDec((unsigned int*)&counters[1], limit);
    }
}

// A block's sum in a __shared__ double by atomicAdd, then one atomicAdd per block into out[0], with a
// __threadfence before it.
extern "C" __global__ void block_double_sums(const float* x, float* out, int n) {
    __shared__ double sum;
    if (threadIdx.x == 0) sum = 0.0;
    __syncthreads();
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) atomicAdd(&sum, (double)x[i]);
    __syncthreads();
    if (threadIdx.x == 0) {
        __threadfence();
        atomicAdd(&out[0], (float)sum);
    }
}
