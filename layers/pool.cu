// pool: max, average, maxabs and random pooling over clipped windows. The twin of pool.py's NumPy code.
// x is (C, H, W, N), y (C, oy, ox, N); window (py, px) covers rows start + py*stride ... + size - 1
// (the same for columns), clipped to the image. mode: 0 avg, 1 max, 2 maxabs, 3 rand.
#include "common.cuh"
#include "random.cuh"

// Thread mapping: one thread per output element, looping over its window. rand draws one in-bounds
// cell of the window, floor(u * count) in raster order, u = u(key, output index).
extern "C" __global__ void pool_forward(const float* __restrict__ x, float* __restrict__ y, int C, int H, int W,
                                        int N, int size, int start, int stride, int oy, int ox, int mode,
                                        unsigned int key, int total) {
    FOR_EACH(i, total) {
        int n = i % N, t = i / N;
        int px = t % ox; t /= ox;
        int py = t % oy, c = t / oy;
        int y0 = window_lo(py * stride, start), y1 = window_hi(py * stride, start, size, H);
        int x0 = window_lo(px * stride, start), x1 = window_hi(px * stride, start, size, W);
        if (mode == 3) {
            int rows = y1 - y0, cols = x1 - x0, count = rows * cols;
            int k = imin(count - 1, (int)(uniform01(key, i) * (float)count));
            y[i] = x[((c * H + y0 + k / cols) * W + x0 + k % cols) * N + n];
            continue;
        }
        float acc = mode == 1 ? LOWEST_FLOAT : 0.0f;
        for (int r = y0; r < y1; ++r)
            for (int q = x0; q < x1; ++q) {
                float v = x[((c * H + r) * W + q) * N + n];
                if (mode == 1) acc = fmaxf(acc, v);
                else if (mode == 2) acc = fabsf(acc) > fabsf(v) ? acc : v;   // the 2012 code's MaxAbsPooler
                else acc += v;
            }
        y[i] = mode == 0 ? acc / (float)((y1 - y0) * (x1 - x0)) : acc;
    }
}

// Thread mapping: one thread per input element, gathering over the windows that hold it:
// max, maxabs, rand: the dy of every window whose output it equals (ties share); avg: dy / the
// window's count.
extern "C" __global__ void pool_backward(const float* __restrict__ x, const float* __restrict__ y,
                                         const float* __restrict__ dy, float* __restrict__ dx, int C, int H, int W,
                                         int N, int size, int start, int stride, int oy, int ox, int mode,
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
                if (mode != 0) {
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
