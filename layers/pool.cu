// pool: max and average pooling over clipped windows. The twin of pool.py's NumPy code.
// x is (C, H, W, N), y (C, oy, ox, N); window (py, px) covers rows start + py*stride ... + size - 1
// (the same for columns), clipped to the image.
#include "common.cuh"

// Thread mapping: one thread per output element, looping over its window.
extern "C" __global__ void pool_forward(const float* __restrict__ x, float* __restrict__ y, int C, int H, int W,
                                        int N, int size, int start, int stride, int oy, int ox, int is_max,
                                        int total) {
    FOR_EACH(i, total) {
        int n = i % N, t = i / N;
        int px = t % ox; t /= ox;
        int py = t % oy, c = t / oy;
        int y0 = window_lo(py * stride, start), y1 = window_hi(py * stride, start, size, H);
        int x0 = window_lo(px * stride, start), x1 = window_hi(px * stride, start, size, W);
        float acc = is_max ? LOWEST_FLOAT : 0.0f;
        for (int r = y0; r < y1; ++r)
            for (int q = x0; q < x1; ++q) {
                float v = x[((c * H + r) * W + q) * N + n];
                acc = is_max ? fmaxf(acc, v) : acc + v;
            }
        y[i] = is_max ? acc : acc / (float)((y1 - y0) * (x1 - x0));
    }
}

// Thread mapping: one thread per input element, gathering over the windows that hold it:
// max: the dy of every window whose maximum it equals (ties share); avg: dy / the window's count.
extern "C" __global__ void pool_backward(const float* __restrict__ x, const float* __restrict__ y,
                                         const float* __restrict__ dy, float* __restrict__ dx, int C, int H, int W,
                                         int N, int size, int start, int stride, int oy, int ox, int is_max,
                                         int total) {
    FOR_EACH(i, total) {
        int n = i % N, t = i / N;
        int q = t % W; t /= W;
        int r = t % H, c = t / H;
        // windows p with start + p*stride <= r < start + p*stride + size
        int py0 = imax(0, ceil_div(r - start - size + 1, stride)), py1 = imin(oy - 1, floor_div(r - start, stride));
        int px0 = imax(0, ceil_div(q - start - size + 1, stride)), px1 = imin(ox - 1, floor_div(q - start, stride));
        float v = x[i], acc = 0.0f;
        for (int py = py0; py <= py1; ++py)
            for (int px = px0; px <= px1; ++px) {
                int j = ((c * oy + py) * ox + px) * N + n;
                if (is_max) {
                    if (v == y[j]) acc += dy[j];
                } else {
                    int rows = window_hi(py * stride, start, size, H) - window_lo(py * stride, start);
                    int cols = window_hi(px * stride, start, size, W) - window_lo(px * stride, start);
                    acc += dy[j] / (float)(rows * cols);
                }
            }
        dx[i] = acc;
    }
}
