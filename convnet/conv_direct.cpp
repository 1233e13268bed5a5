// The numpy backend's direct convolution, compiled on the user's machine (native.py) with
// -O3 -march=native and called by conv_native.py: no unfolded copy of the input and no GEMM. On
// cuda-convnet's layout, images innermost, the convolution at one output pixel is, for every image at
// once, a sum over (c, ky, kx) of a weight times a row of contiguous images: the inner loop is FMAs on
// vectors of LANES images (16 with AVX-512).
//
// Forward: a tile of FB filters x NV vectors of images of one output pixel (8 x 2 with AVX-512: 16
// accumulators) stays in registers while the loop runs over every (c, ky, kx); each step loads NV
// vectors of input and FB weights (packed so that a step's FB weights are adjacent). Each output is
// one sum in (c, ky, kx) order, whichever piece of rows computes it.
//
// Weight gradient: dw[f, c, ky, kx] = sum over the rows' pixels and images of dy[f, y, x, n] *
// frame[c, y*s + ky, x*s + kx, n]; a tile of filters x taps kx (one vector of partial sums each) runs
// over every pixel and image of the rows, and its lanes are added as a tree at the end.
//
// Every array is float32; images per row N is a multiple of 16 (the caller checks).
#include <string.h>

// The vector: as wide as the CPU's registers, and tiles as large as its register file holds.
#if defined(__AVX512F__)
const int LANES = 16, REGISTERS = 32;
#elif defined(__AVX__)
const int LANES = 8, REGISTERS = 16;
#elif defined(__aarch64__)
const int LANES = 4, REGISTERS = 32;
#else
const int LANES = 4, REGISTERS = 16;
#endif
typedef float vec __attribute__((vector_size(4 * LANES)));

static inline vec load(const float* p) { vec v; memcpy(&v, p, sizeof v); return v; }
static inline void store(float* p, vec v) { memcpy(p, &v, sizeof v); }

// The sum of a vector's lanes as a tree (halves added to halves: independent adds the compiler
// vectorizes, where a running sum would be dependent ones). t is overwritten.
static inline float lanes_sum(float* t) {
    for (int half = LANES / 2; half >= 1; half /= 2)
        for (int q = 0; q < half; ++q) t[q] += t[q + half];
    return t[0];
}

struct Frame {              // the zero-bordered input of one group: (Cg, rows, cols, N)
    const float* data;
    long channel, row;      // strides in floats; an image column is N floats apart
    int channels, N;
};

struct Out {                // an output of maps: map f starts at data + f * map
    float* data;
    long map;
    int ox;                 // its output columns
};

const int FB = 8;           // filters per forward tile: the packing of the weights (conv_native.packed)
const int NV = REGISTERS >= 32 ? 2 : 1;     // vectors of images per forward tile: FB x NV accumulators

// The block of filters conv_native.packed must pack the weights in.
extern "C" int conv_filter_block() { return FB; }

// One forward tile: filters f0 ... f0+FB-1 (only `valid` of them stored), images n0 ... n0+LANES*V-1,
// output pixel (y, x).
template <int V>
static void forward_tile(const Frame& in, const float* w, const Out& out, int k, int s, int y, int x,
                         int n0, int f0, int valid, int accumulate) {
    vec acc[FB][V];
    float* o = out.data + (long)f0 * out.map + ((long)y * out.ox + x) * in.N + n0;
    for (int i = 0; i < FB; ++i)
        for (int j = 0; j < V; ++j)
            acc[i][j] = (accumulate && i < valid) ? load(o + i * out.map + LANES * j) : (vec){};
    for (int c = 0; c < in.channels; ++c)
        for (int ky = 0; ky < k; ++ky) {
            const float* p = in.data + c * in.channel + (long)(y * s + ky) * in.row + (long)x * s * in.N + n0;
            for (int kx = 0; kx < k; ++kx, p += in.N, w += FB) {
                vec v[V];
                for (int j = 0; j < V; ++j) v[j] = load(p + LANES * j);
                for (int i = 0; i < FB; ++i)
                    for (int j = 0; j < V; ++j) acc[i][j] += w[i] * v[j];
            }
        }
    for (int i = 0; i < valid; ++i)
        for (int j = 0; j < V; ++j) store(o + i * out.map + LANES * j, acc[i][j]);
}

// out[f, y, x, :] (+)= the convolution, for output rows y0 ... y1-1 and every filter. packed holds
// the filters in blocks of FB: block b is (Cg, k, k, FB), filters past the last zero.
extern "C" void conv_forward(const float* frame, long channel_stride, long row_stride, int channels, int N,
                             const float* packed, float* out, long map_stride, int maps, int ox,
                             int k, int s, int y0, int y1, int accumulate) {
    Frame in{frame, channel_stride, row_stride, channels, N};
    Out o{out, map_stride, ox};
    long block = (long)channels * k * k * FB;
    for (int y = y0; y < y1; ++y)
        for (int x = 0; x < ox; ++x)
            for (int f0 = 0; f0 < maps; f0 += FB) {
                int valid = maps - f0 < FB ? maps - f0 : FB;
                const float* w = packed + (f0 / FB) * block;
                int n0 = 0;
                for (; n0 + NV * LANES <= N; n0 += NV * LANES) forward_tile<NV>(in, w, o, k, s, y, x, n0, f0, valid, accumulate);
                for (; n0 < N; n0 += LANES) forward_tile<1>(in, w, o, k, s, y, x, n0, f0, valid, accumulate);
            }
}

// One weight-gradient tile: filters f0 ... f0+F-1, taps kx0 ... kx0+KB-1 of every (c, ky).
template <int F, int KB>
static void weight_tile(const Frame& in, const float* dy, long dy_map, int ox, int k, int s, int y0, int y1,
                        int f0, int kx0, float* dw) {
    for (int c = 0; c < in.channels; ++c)
        for (int ky = 0; ky < k; ++ky) {
            vec acc[F][KB];
            for (int i = 0; i < F; ++i)
                for (int j = 0; j < KB; ++j) acc[i][j] = (vec){};
            for (int y = y0; y < y1; ++y) {
                const float* p = in.data + c * in.channel + (long)(y * s + ky) * in.row + (long)kx0 * in.N;
                const float* d = dy + (long)f0 * dy_map + (long)y * ox * in.N;
                for (int x = 0; x < ox; ++x, p += (long)s * in.N, d += in.N)
#pragma GCC unroll 4
                    for (int n = 0; n < in.N; n += LANES) {
                        vec v[KB], e[F];
                        for (int j = 0; j < KB; ++j) v[j] = load(p + (long)j * in.N + n);
                        for (int i = 0; i < F; ++i) e[i] = load(d + i * dy_map + n);
                        for (int i = 0; i < F; ++i)
                            for (int j = 0; j < KB; ++j) acc[i][j] += e[i] * v[j];
                    }
            }
            float lanes[F][KB][LANES];
            for (int i = 0; i < F; ++i)
                for (int j = 0; j < KB; ++j) store(lanes[i][j], acc[i][j]);
            for (int i = 0; i < F; ++i)
                for (int j = 0; j < KB; ++j)
                    dw[(((long)(f0 + i) * in.channels + c) * k + ky) * k + kx0 + j] = lanes_sum(lanes[i][j]);
        }
}

// Weight-gradient tiles: MANY filters x up to 3 taps, or FEW filters x 4-5 taps (as many
// accumulators as the registers hold beside the loads), and single filters for the rest.
const int MANY = REGISTERS >= 32 ? 8 : 4, FEW = MANY / 2;

template <int F>
static void weight_taps(const Frame& in, const float* dy, long dy_map, int ox, int k, int s, int y0, int y1,
                        int f0, int kx0, int taps, float* dw) {
    switch (taps) {
        case 1: weight_tile<F, 1>(in, dy, dy_map, ox, k, s, y0, y1, f0, kx0, dw); break;
        case 2: weight_tile<F, 2>(in, dy, dy_map, ox, k, s, y0, y1, f0, kx0, dw); break;
        case 3: weight_tile<F, 3>(in, dy, dy_map, ox, k, s, y0, y1, f0, kx0, dw); break;
        case 4: weight_tile<F < FEW ? F : FEW, 4>(in, dy, dy_map, ox, k, s, y0, y1, f0, kx0, dw); break;
        default: weight_tile<F < FEW ? F : FEW, 5>(in, dy, dy_map, ox, k, s, y0, y1, f0, kx0, dw); break;
    }
}

// dw (maps, Cg, k, k) = the weight gradient from output rows y0 ... y1-1 alone (written, not added).
extern "C" void conv_weight_grad(const float* frame, long channel_stride, long row_stride, int channels, int N,
                                 const float* dy, long map_stride, int maps, int ox, int k, int s, int y0, int y1,
                                 float* dw) {
    Frame in{frame, channel_stride, row_stride, channels, N};
    for (int kx0 = 0; kx0 < k; kx0 += 5) {
        int taps = k - kx0 < 5 ? k - kx0 : 5;
        int tile = taps <= 3 ? MANY : FEW;
        int f0 = 0;
        for (; f0 + tile <= maps; f0 += tile) {
            if (tile == MANY) weight_taps<MANY>(in, dy, map_stride, ox, k, s, y0, y1, f0, kx0, taps, dw);
            else weight_taps<FEW>(in, dy, map_stride, ox, k, s, y0, y1, f0, kx0, taps, dw);
        }
        for (; f0 < maps; ++f0) weight_taps<1>(in, dy, map_stride, ox, k, s, y0, y1, f0, kx0, taps, dw);
    }
}
