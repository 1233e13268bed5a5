// softmax over the K classes of each of N images; x and y are (K, N).
// Thread mapping: a block of 32 x CLASS_ROWS threads per 32 images (softmax_blocks in softmax.py).
// threadIdx.x is the image, so neighbouring threads read neighbouring images (coalesced);
// threadIdx.y strides over the classes, and the max and the sums over them are reduced across
// threadIdx.y in shared memory (a tree: the same order on every run). One thread per image, looping
// over 1000 classes three times, kept only 128 threads of a GPU busy for a paper-sized batch.
#include "common.cuh"

#define CLASS_ROWS 32

// The reduction of each column of part (one per image) over its CLASS_ROWS rows, into row 0: a max
// (take_max) or a sum. Every thread of the block calls it.
__device__ __forceinline__ float reduce_classes(float (*part)[33], float v, int take_max) {
    int tx = threadIdx.x, ty = threadIdx.y;
    part[ty][tx] = v;
    __syncthreads();
    for (int half = CLASS_ROWS / 2; half > 0; half /= 2) {
        if (ty < half) {
            float other = part[ty + half][tx];
            part[ty][tx] = take_max ? fmaxf(part[ty][tx], other) : part[ty][tx] + other;
        }
        __syncthreads();
    }
    float result = part[0][tx];
    __syncthreads();                       // every thread has read row 0 before part is written again
    return result;
}

extern "C" __global__ void softmax_forward(const float* __restrict__ x, float* __restrict__ y, int K, int N) {
    __shared__ float part[CLASS_ROWS][33];
    for (int first = blockIdx.x * 32; first < N; first += gridDim.x * 32) {
        int n = first + threadIdx.x;
        bool image = n < N;
        float m = LOWEST_FLOAT;
        if (image)
            for (int k = threadIdx.y; k < K; k += CLASS_ROWS) m = fmaxf(m, x[k * N + n]);
        m = reduce_classes(part, m, 1);
        float sum = 0.0f;
        if (image)
            for (int k = threadIdx.y; k < K; k += CLASS_ROWS) {
                float e = expf(x[k * N + n] - m);
                y[k * N + n] = e;
                sum += e;
            }
        sum = reduce_classes(part, sum, 0);
        if (image)                         // each thread divides the entries it wrote
            for (int k = threadIdx.y; k < K; k += CLASS_ROWS) y[k * N + n] /= sum;
    }
}

// dx = y * (dy - sum_k dy_k y_k), with the same mapping.
extern "C" __global__ void softmax_backward(const float* __restrict__ y, const float* __restrict__ dy,
                                            float* __restrict__ dx, int K, int N) {
    __shared__ float part[CLASS_ROWS][33];
    for (int first = blockIdx.x * 32; first < N; first += gridDim.x * 32) {
        int n = first + threadIdx.x;
        bool image = n < N;
        float s = 0.0f;
        if (image)
            for (int k = threadIdx.y; k < K; k += CLASS_ROWS) s += dy[k * N + n] * y[k * N + n];
        s = reduce_classes(part, s, 0);
        if (image)
            for (int k = threadIdx.y; k < K; k += CLASS_ROWS) dx[k * N + n] = y[k * N + n] * (dy[k * N + n] - s);
    }
}

// The gradient of cost.logreg's -coeff * sum_n log y[label_n, n] with respect to the softmax's input,
// in one step: coeff * (y - onehot(label)). It never divides by y, so it stays finite where a
// probability underflows to 0 in float32 (src/layer_kernels.cu, kLogregSoftmaxGrad, did the same).
// Thread mapping: one thread per (class, image).
extern "C" __global__ void logreg_softmax_grad(const float* __restrict__ labels, const float* __restrict__ y,
                                               float* __restrict__ dx, int K, int N, float coeff) {
    FOR_EACH(i, K * N) {
        int n = i % N, k = i / N;
        dx[i] = coeff * (y[i] - ((int)labels[n] == k ? 1.0f : 0.0f));
    }
}
