// blur: one separable pass of a symmetric filter over the maps of x (C, H, W, N), zeros past the edge.
// horizontal = 1: along each row (over columns); 0: along each column. Thread mapping: one thread per
// output element, summing its 2R + 1 taps.
#include "common.cuh"

extern "C" __global__ void blur_pass(const float* __restrict__ x, const float* __restrict__ filter,
                                     float* __restrict__ y, int C, int H, int W, int N, int taps, int horizontal,
                                     int total) {
    int R = taps / 2;
    FOR_EACH(i, total) {
        int n = i % N, t = i / N;
        int q = t % W; t /= W;
        int r = t % H, c = t / H;
        float acc = 0.0f;
        for (int d = -R; d <= R; ++d) {
            int rr = horizontal ? r : r + d, qq = horizontal ? q + d : q;
            if (rr >= 0 && rr < H && qq >= 0 && qq < W) acc += filter[R + d] * x[((c * H + rr) * W + qq) * N + n];
        }
        y[i] = acc;
    }
}
