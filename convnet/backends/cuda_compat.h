// The emulated backend's view of CUDA: enough of it to compile our .cu files with the host C++
// compiler and run every thread of a grid on the CPU. Each thread's indices are thread-local, so the
// blocks of a grid can run on several CPU threads at once (kernels never share memory between threads).
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
// Not emulated: a kernel that needs them does not compile here, rather than running wrongly.
#define __shared__ __shared_memory_is_not_emulated__
#define __syncthreads() __syncthreads_is_not_emulated__()

// CUDA's fast-math intrinsics, as their exact counterparts.
#define __expf expf
#define __logf logf
#define __powf powf
#define __fdividef(a, b) ((a) / (b))
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
