// The emulated backend's view of CUDA: enough of it to compile our .cu files with the host C++
// compiler and run every thread of a grid on the CPU. Each thread's indices are thread-local, so the
// blocks of a grid can run on several CPU threads at once. What a block's threads share (__shared__,
// __syncthreads, the warp operations) is emu_block.h's; the bounds check of every array, emu_guard.h's;
// the atomic functions, emu_atomic.h's.
#pragma once
#include <cmath>
#include <cstdint>

struct emu_dim3 { unsigned int x, y, z; };
static thread_local emu_dim3 threadIdx, blockIdx, blockDim, gridDim;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict__
#define __align__(n) alignas(n)
#include "emu_block.h"
#include "emu_guard.h"
#include "emu_atomic.h"

// CUDA's fast-math intrinsics, as their exact counterparts.
#define __expf expf
#define __logf logf
#define __powf powf
#define __fdividef(a, b) ((a) / (b))
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
