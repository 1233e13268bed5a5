// nailbed: x (C, H, W, N), y (C, oy, ox, N); nail (py, px) sits at (sy + py * stride, sx + px * stride).
#include "common.cuh"

// Thread mapping: one thread per output element.
extern "C" __global__ void nailbed_forward(const float* __restrict__ x, float* __restrict__ y, int C, int H, int W,
                                           int N, int oy, int ox, int sy, int sx, int stride, int total) {
    FOR_EACH(i, total) {
        int n = i % N, t = i / N;
        int px = t % ox; t /= ox;
        int py = t % oy, c = t / oy;
        y[i] = x[((c * H + sy + py * stride) * W + sx + px * stride) * N + n];
    }
}

// Thread mapping: one thread per input element: its nail's gradient, or 0 between nails.
extern "C" __global__ void nailbed_backward(const float* __restrict__ dy, float* __restrict__ dx, int C, int H,
                                            int W, int N, int oy, int ox, int sy, int sx, int stride, int total) {
    FOR_EACH(i, total) {
        int n = i % N, t = i / N;
        int q = t % W; t /= W;
        int r = t % H, c = t / H;
        int dr = r - sy, dq = q - sx;
        bool nail = dr >= 0 && dq >= 0 && dr % stride == 0 && dq % stride == 0 && dr / stride < oy && dq / stride < ox;
        dx[i] = nail ? dy[((c * oy + dr / stride) * ox + dq / stride) * N + n] : 0.0f;
    }
}
