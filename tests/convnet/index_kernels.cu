// Where each thread of a launch is, for tests/convnet/test_emulated_indices.py. No kernel here waits
// for another thread, so the emulator runs each block's threads one after the other in a loop (its
// launch without fibers); block_kernels.cu's where_am_i_at_a_barrier is the same with a barrier.

// Every thread writes its block's and its own index at its place in the grid (x fastest, then y, z),
// and the first thread of the first block writes the launch's dimensions.
extern "C" __global__ void where_am_i(int* out, int* dims) {
    unsigned block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    unsigned thread = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    int* at = out + 6 * (block * blockDim.x * blockDim.y * blockDim.z + thread);
    at[0] = blockIdx.x, at[1] = blockIdx.y, at[2] = blockIdx.z;
    at[3] = threadIdx.x, at[4] = threadIdx.y, at[5] = threadIdx.z;
    if (block == 0 && thread == 0) {
        dims[0] = gridDim.x, dims[1] = gridDim.y, dims[2] = gridDim.z;
        dims[3] = blockDim.x, dims[4] = blockDim.y, dims[5] = blockDim.z;
    }
}

// Every thread of the block writes its index to the same place: a race, whose winner on the emulator
// is the last thread to run (undefined on a GPU).
extern "C" __global__ void last_writer(int* out) {
    out[0] = threadIdx.x;
}
