// The emulated backend's view of CUDA: enough of it to compile our .cu files with the host C++
// compiler and run every thread of a grid on the CPU. Each thread's indices are thread-local, so the
// blocks of a grid can run on several CPU threads at once. What a block's threads share (__shared__,
// __syncthreads, the warp operations) is emu_block.h's; the bounds check of every array, emu_guard.h's;
// the atomic functions, emu_atomic.h's; the race check, emu_race.h's.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

struct emu_dim3 { unsigned int x, y, z; };
static thread_local emu_dim3 threadIdx, blockIdx, blockDim, gridDim;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict__
#define __align__(n) alignas(n)
// What the blocks (emu_block.h) and the bounds check (emu_guard.h) tell the race check (emu_race.h,
// which keeps nothing unless the library is built for it).
static void emu_race_arguments(int count, const char* const* names, char* const* starts, const long long* bytes,
                               const int* written);
static void emu_race_end();
static void emu_race_block_begin();
static void emu_race_shared(void* start, size_t bytes, const char* name);
static void emu_race_barrier();
static void emu_race_warp_sync(unsigned warp);
#include "emu_block.h"
#include "emu_guard.h"
#include "emu_race.h"
#include "emu_atomic.h"

// CUDA's fast-math intrinsics, as their exact counterparts.
#define __expf expf
#define __logf logf
#define __powf powf
#define __fdividef(a, b) ((a) / (b))
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
