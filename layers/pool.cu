// pool: max, average, maxabs and random pooling over clipped windows. The twin of pool.py's NumPy code.
// x is (C, H, W, N), y (C, oy, ox, N); window (py, px) covers rows start + py*stride ... + size - 1
// (the same for columns), clipped to the image. mode: 0 avg, 1 max, 2 maxabs, 3 rand.
#include "common.cuh"
#include "random.cuh"

// Thread mapping (both kernels): IMAGES_PER_THREAD images of one pixel per thread, so that the pixel's
// window arithmetic (divisions by run-time sizes) is done once for them; `lanes` = ceil(N /
// IMAGES_PER_THREAD) threads share a pixel, lane l taking images l, l + lanes, ... (neighbouring
// threads, neighbouring images: coalesced). total is pixels * lanes.

// One output pixel per thread's images, looping over its window. rand draws one in-bounds cell of
// the window, floor(u * count) in raster order, u = u(key, output index).
extern "C" __global__ void pool_forward(const float* __restrict__ x, float* __restrict__ y, int C, int H, int W,
                                        int N, int size, int start, int stride, int oy, int ox, int mode,
                                        unsigned int key, int lanes, int total) {
    FOR_EACH(i, total) {
        int lane = i % lanes, pixel = i / lanes, t = pixel;
        int px = t % ox; t /= ox;
        int py = t % oy, c = t / oy;
        int y0 = window_lo(py * stride, start), y1 = window_hi(py * stride, start, size, H);
        int x0 = window_lo(px * stride, start), x1 = window_hi(px * stride, start, size, W);
        const float* in = x + c * H * W * N;
        float* out = y + pixel * N;
        if (mode == 3) {
            int rows = y1 - y0, cols = x1 - x0, count = rows * cols;
            for (int j = 0; j < IMAGES_PER_THREAD; ++j) {
                int n = lane + j * lanes;
                if (n >= N) continue;
                int k = imin(count - 1, (int)(uniform01(key, pixel * N + n) * (float)count));
                out[n] = in[((y0 + k / cols) * W + x0 + k % cols) * N + n];
            }
            continue;
        }
        float acc[IMAGES_PER_THREAD];
        for (int j = 0; j < IMAGES_PER_THREAD; ++j) acc[j] = mode == 1 ? LOWEST_FLOAT : 0.0f;
        for (int r = y0; r < y1; ++r)
            for (int q = x0; q < x1; ++q) {
                const float* cell = in + (r * W + q) * N;
                for (int j = 0; j < IMAGES_PER_THREAD; ++j) {
                    int n = lane + j * lanes;
                    if (n >= N) continue;
                    float v = cell[n];
                    if (mode == 1) acc[j] = fmaxf(acc[j], v);
                    else if (mode == 2) acc[j] = fabsf(acc[j]) > fabsf(v) ? acc[j] : v;   // the 2012 code's MaxAbsPooler
                    else acc[j] += v;
                }
            }
        float count = (float)((y1 - y0) * (x1 - x0));
        for (int j = 0; j < IMAGES_PER_THREAD; ++j) {
            int n = lane + j * lanes;
            if (n >= N) continue;
            out[n] = mode == 0 ? acc[j] / count : acc[j];
        }
    }
}

// One input pixel per thread's images, gathering over the windows that hold it: max, maxabs, rand:
// the dy of every window whose output it equals (ties share); avg: dy / the window's count.
extern "C" __global__ void pool_backward(const float* __restrict__ x, const float* __restrict__ y,
                                         const float* __restrict__ dy, float* __restrict__ dx, int C, int H, int W,
                                         int N, int size, int start, int stride, int oy, int ox, int mode,
                                         int lanes, int total) {
    FOR_EACH(i, total) {
        int lane = i % lanes, pixel = i / lanes, t = pixel;
        int q = t % W; t /= W;
        int r = t % H, c = t / H;
        // windows p with start + p*stride <= r < start + p*stride + size
        int py0 = imax(0, ceil_div(r - start - size + 1, stride)), py1 = imin(oy - 1, floor_div(r - start, stride));
        int px0 = imax(0, ceil_div(q - start - size + 1, stride)), px1 = imin(ox - 1, floor_div(q - start, stride));
        const float* xs = x + pixel * N;
        float v[IMAGES_PER_THREAD], acc[IMAGES_PER_THREAD];
        for (int j = 0; j < IMAGES_PER_THREAD; ++j) {
            int n = lane + j * lanes;
            v[j] = n < N ? xs[n] : 0.0f;
            acc[j] = 0.0f;
        }
        for (int py = py0; py <= py1; ++py)
            for (int px = px0; px <= px1; ++px) {
                int w = ((c * oy + py) * ox + px) * N;
                float share = 1.0f;
                if (mode == 0) {
                    int rows = window_hi(py * stride, start, size, H) - window_lo(py * stride, start);
                    int cols = window_hi(px * stride, start, size, W) - window_lo(px * stride, start);
                    share = (float)(rows * cols);
                }
                for (int j = 0; j < IMAGES_PER_THREAD; ++j) {
                    int n = lane + j * lanes;
                    if (n >= N) continue;
                    if (mode != 0) {
                        if (v[j] == y[w + n]) acc[j] += dy[w + n];
                    } else {
                        acc[j] += dy[w + n] / share;
                    }
                }
            }
        float* out = dx + pixel * N;
        for (int j = 0; j < IMAGES_PER_THREAD; ++j) {
            int n = lane + j * lanes;
            if (n >= N) continue;
            out[n] = acc[j];
        }
    }
}
