// href: y (C, H, W, N) = x with every row reversed. Thread mapping: one thread per output element.
#include "common.cuh"

extern "C" __global__ void href_reflect(const float* __restrict__ x, float* __restrict__ y, int W, int N, int total) {
    FOR_EACH(i, total) {
        int n = i % N, t = i / N;
        int q = t % W, row = t / W;
        y[i] = x[(row * W + W - 1 - q) * N + n];
    }
}
