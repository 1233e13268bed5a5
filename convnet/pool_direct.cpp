// The numpy backend's compiled gradient of max, maxabs and random pooling (layers/pool.py; built by
// native.py): every input equal to its window's output receives the window's output gradient (ties
// share), as cuda-convnet's convLocalMaxUndo.
//
// One pass over the input gradient, each input pixel gathering from the windows that hold it, where
// the NumPy code adds a masked product per window offset into a frame and copies the frame out. The
// windows are visited in the order the NumPy code adds them (offsets ascending, so windows
// descending), so the sums are the same. The inner loop runs over the N images of a pixel, which are
// contiguous: the compiler vectorizes the compare and the add.

// floor(a / b) for b > 0 and any a.
static inline int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Windows w whose span start + w*stride ... + size - 1 holds pixel i: [*first, *last], clipped to [0, n).
static inline void windows_of(int i, int start, int size, int stride, int n, int* first, int* last) {
    int lo = floor_div(i - start - size, stride) + 1;       // the first w with start + w*stride + size > i
    int hi = floor_div(i - start, stride);                   // the last w with start + w*stride <= i
    *first = lo < 0 ? 0 : lo;
    *last = hi > n - 1 ? n - 1 : hi;
}

// dx (maps, H, W, N) for x (maps, H, W, N) and y, dy (maps, oy, ox, N).
extern "C" void pool_equal_backward(const float* x, const float* y, const float* dy, float* dx, int maps,
                                    int H, int W, int N, int size, int start, int stride, int oy, int ox) {
    for (int c = 0; c < maps; ++c)
        for (int iy = 0; iy < H; ++iy) {
            int wy0, wy1;
            windows_of(iy, start, size, stride, oy, &wy0, &wy1);
            for (int ix = 0; ix < W; ++ix) {
                int wx0, wx1;
                windows_of(ix, start, size, stride, ox, &wx0, &wx1);
                long at = (((long)c * H + iy) * W + ix) * N;
                const float* xv = x + at;
                float* d = dx + at;
                for (int n = 0; n < N; ++n) d[n] = 0.0f;
                for (int wy = wy1; wy >= wy0; --wy)
                    for (int wx = wx1; wx >= wx0; --wx) {
                        long w = (((long)c * oy + wy) * ox + wx) * N;
                        const float* yv = y + w;
                        const float* g = dy + w;
                        for (int n = 0; n < N; ++n) d[n] += xv[n] == yv[n] ? g[n] : 0.0f;
                    }
            }
        }
}
