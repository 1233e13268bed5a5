// Shared by every kernel file. Each .cu is compiled twice from the same text: by NVRTC for the GPU,
// and by the host C++ compiler against backends/cuda_compat.h for the emulated backend. So kernels
// use only what both understand: __shared__ variables (fixed-size, one per declaration, or extern
// __shared__ sized at launch with Kernel(..., shared=bytes)), __syncthreads and the warp operations
// (__shfl*_sync, __syncwarp, __ballot/any/all_sync) are emulated (backends/emu_block.h), and so are
// the atomic functions (backends/emu_atomic.h). Each output element of our kernels is written by
// exactly one thread, so results do not depend on the order threads run in
// (tests/convnet/test_emulated_blocks.py runs them reversed), and no thread reaches outside its arrays
// (the emulator's guard pages, emu_guard.h, check every launch).
#pragma once

// One thread per element, grid-stride: any grid covers any n.
#define FOR_EACH(i, n) for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)

// The kernels that give a thread several images of one pixel or row (unfold.cu, pool.cu): so many
// images, so that the pixel's index arithmetic, divisions by run-time sizes that cost more than the
// copy itself, is done once for them. kernels.py's IMAGES_PER_THREAD is the same number.
#define IMAGES_PER_THREAD 8

__device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }
__device__ __forceinline__ int imax(int a, int b) { return a > b ? a : b; }

// Division rounding towards minus infinity (C's / rounds towards zero), for b > 0.
__device__ __forceinline__ int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
__device__ __forceinline__ int ceil_div(int a, int b) { return -floor_div(-a, b); }

// The largest finite float: the start of a max over a window that is never empty.
#define LOWEST_FLOAT (-3.402823466e+38f)

// Square windows of `size` starting at `start` relative to a pixel (start = -(size/2) for the norms).
// The pixels a window at r covers: [r + start, r + start + size), clipped to [0, n).
__device__ __forceinline__ int window_lo(int r, int start) { return imax(r + start, 0); }
__device__ __forceinline__ int window_hi(int r, int start, int size, int n) { return imin(r + start + size, n); }
// The windows that cover pixel r: those at [r - start - size + 1, r - start], clipped to [0, n).
__device__ __forceinline__ int covering_lo(int r, int start, int size) { return imax(r - start - size + 1, 0); }
__device__ __forceinline__ int covering_hi(int r, int start, int n) { return imin(r - start + 1, n); }
