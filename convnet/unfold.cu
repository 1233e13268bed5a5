// Unfolding an image batch for a convolution, and its adjoint. The twin of windows.unfold/fold.
// x is (C, H, W, N); filter positions (py, px) start at (py*stride - pad, px*stride - pad).
// The unfolded input has one entry per (channel, tap ky, tap kx, position, image), in one of two layouts:
//   positions_outer = 0: (C, k, k, oy, ox, N), conv's: filters (F, C*k*k) times it is the output;
//   positions_outer = 1: (oy, ox, C, k, k, N), local's: one (C*k*k, N) matrix per position.
#include "common.cuh"

// Thread mapping: IMAGES_PER_THREAD images of one unfolded row (channel, tap, position) per thread, so
// that the row's index arithmetic (divisions by run-time sizes, which cost more than the copy itself)
// is done once for them. `lanes` = ceil(N / IMAGES_PER_THREAD) threads share a row; lane l takes images
// l, l + lanes, l + 2 * lanes, ...: neighbouring threads read and write neighbouring images. total is
// rows * lanes.
extern "C" __global__ void unfold_forward(const float* __restrict__ x, float* __restrict__ cols, int C, int H,
                                          int W, int N, int k, int stride, int pad, int oy, int ox,
                                          int positions_outer, int lanes, int total) {
    FOR_EACH(i, total) {
        int lane = i % lanes, row = i / lanes, t = row;
        int c, ky, kx, py, px;
        if (positions_outer) {
            kx = t % k; t /= k; ky = t % k; t /= k; c = t % C; t /= C; px = t % ox; py = t / ox;
        } else {
            px = t % ox; t /= ox; py = t % oy; t /= oy; kx = t % k; t /= k; ky = t % k; c = t / k;
        }
        int yy = py * stride - pad + ky, xx = px * stride - pad + kx;
        float* out = cols + row * N;
        if (yy >= 0 && yy < H && xx >= 0 && xx < W) {
            const float* in = x + ((c * H + yy) * W + xx) * N;
            float v[IMAGES_PER_THREAD];
            for (int j = 0; j < IMAGES_PER_THREAD; ++j) {       // every load in flight before the stores
                int n = lane + j * lanes;
                v[j] = n < N ? in[n] : 0.0f;
            }
            for (int j = 0; j < IMAGES_PER_THREAD; ++j)
                if (lane + j * lanes < N) out[lane + j * lanes] = v[j];
        } else {
            for (int j = 0; j < IMAGES_PER_THREAD; ++j)        // taps outside the image read zero
                if (lane + j * lanes < N) out[lane + j * lanes] = 0.0f;
        }
    }
}

// Thread mapping: IMAGES_PER_THREAD images of one input pixel (c, y, x) per thread (lanes as above),
// gathering the unfolded entries that read it (no two threads write one place, so no atomics).
// total is C * H * W * lanes.
extern "C" __global__ void unfold_backward(const float* __restrict__ dcols, float* __restrict__ dx, int C, int H,
                                           int W, int N, int k, int stride, int pad, int oy, int ox,
                                           int positions_outer, int lanes, int total) {
    FOR_EACH(i, total) {
        int lane = i % lanes, pixel = i / lanes, t = pixel;
        int xx = t % W; t /= W;
        int yy = t % H, c = t / H;
        float acc[IMAGES_PER_THREAD];
        for (int j = 0; j < IMAGES_PER_THREAD; ++j) acc[j] = 0.0f;
        for (int ky = 0; ky < k; ++ky) {
            int sy = yy + pad - ky;
            if (sy < 0 || sy % stride) continue;
            int py = sy / stride;
            if (py >= oy) continue;
            for (int kx = 0; kx < k; ++kx) {
                int sx = xx + pad - kx;
                if (sx < 0 || sx % stride) continue;
                int px = sx / stride;
                if (px >= ox) continue;
                int row = positions_outer ? (((py * ox + px) * C + c) * k + ky) * k + kx
                                          : (((c * k + ky) * k + kx) * oy + py) * ox + px;
                const float* in = dcols + row * N;
                for (int j = 0; j < IMAGES_PER_THREAD; ++j) {
                    int n = lane + j * lanes;
                    if (n < N) acc[j] += in[n];
                }
            }
        }
        float* out = dx + pixel * N;
        for (int j = 0; j < IMAGES_PER_THREAD; ++j)
            if (lane + j * lanes < N) out[lane + j * lanes] = acc[j];
    }
}

// randSparse (filtering.py): the stacked input the groups see, out[c] = x[conns[c]] for each map c of
// the stack; plane = H * W * N. Thread mapping: one thread per stacked element.
extern "C" __global__ void gather_maps(const float* __restrict__ x, const int* __restrict__ conns,
                                       float* __restrict__ out, int plane, int total) {
    FOR_EACH(i, total) out[i] = x[conns[i / plane] * plane + i % plane];
}

// The adjoint: dx[c] = the sum of dstack over the `over` places of the stack that hold map c
// (inverse[c * over ... c * over + over - 1]). Thread mapping: one thread per input element.
extern "C" __global__ void sum_maps_back(const float* __restrict__ dstack, const int* __restrict__ inverse,
                                         float* __restrict__ dx, int over, int plane, int total) {
    FOR_EACH(i, total) {
        int c = i / plane, q = i % plane;
        float acc = 0.0f;
        for (int o = 0; o < over; ++o) acc += dstack[inverse[c * over + o] * plane + q];
        dx[i] = acc;
    }
}
