// resize (and rscale): maps x (C, H, W, N) sampled at oy x ox points, separably: output (py, px) reads
// rows y0[py] and y0[py] + 1 with weights wy[py] and 1 - wy[py], and the same for columns
// (resize.py's Axis builds the tables, as the 2012 code's kResizeBilinear placed the samples).
#include "common.cuh"

// Thread mapping: one thread per output element, reading its four taps.
extern "C" __global__ void resample_forward(const float* __restrict__ x, float* __restrict__ y,
                                            const int* __restrict__ y0, const float* __restrict__ wy,
                                            const int* __restrict__ x0, const float* __restrict__ wx, int C, int H,
                                            int W, int N, int oy, int ox, int total) {
    FOR_EACH(i, total) {
        int n = i % N, t = i / N;
        int px = t % ox; t /= ox;
        int py = t % oy, c = t / oy;
        int r0 = y0[py], r1 = imin(r0 + 1, H - 1), q0 = x0[px], q1 = imin(q0 + 1, W - 1);
        float a = wy[py], b = wx[px];
        const float* m = x + (long long)c * H * W * N;
        float top = b * m[(r0 * W + q0) * N + n] + (1.0f - b) * m[(r0 * W + q1) * N + n];
        float bottom = b * m[(r1 * W + q0) * N + n] + (1.0f - b) * m[(r1 * W + q1) * N + n];
        y[i] = a * top + (1.0f - a) * bottom;
    }
}

// The adjoint. Thread mapping: one thread per input element, gathering over the outputs that read it:
// rows py in [ylo[r], yhi[r]) and columns px in [xlo[q], xhi[q]).
extern "C" __global__ void resample_backward(const float* __restrict__ dy, float* __restrict__ dx,
                                             const int* __restrict__ y0, const float* __restrict__ wy,
                                             const int* __restrict__ ylo, const int* __restrict__ yhi,
                                             const int* __restrict__ x0, const float* __restrict__ wx,
                                             const int* __restrict__ xlo, const int* __restrict__ xhi, int C, int H,
                                             int W, int N, int oy, int ox, int total) {
    FOR_EACH(i, total) {
        int n = i % N, t = i / N;
        int q = t % W; t /= W;
        int r = t % H, c = t / H;
        float acc = 0.0f;
        for (int py = ylo[r]; py < yhi[r]; ++py) {
            int r0 = y0[py], r1 = imin(r0 + 1, H - 1);
            float a = (r0 == r ? wy[py] : 0.0f) + (r1 == r ? 1.0f - wy[py] : 0.0f);
            if (a == 0.0f) continue;
            for (int px = xlo[q]; px < xhi[q]; ++px) {
                int q0 = x0[px], q1 = imin(q0 + 1, W - 1);
                float b = (q0 == q ? wx[px] : 0.0f) + (q1 == q ? 1.0f - wx[px] : 0.0f);
                acc += a * b * dy[((c * oy + py) * ox + px) * N + n];
            }
        }
        dx[i] = acc;
    }
}
