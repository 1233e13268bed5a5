// cost.logreg: labels (1, N) hold class numbers as floats; probs is (K, N).
#include "common.cuh"

// How much of a top-k hit: with `bigger` classes more probable than the label and `equal` as
// probable (the label included), clip(k - bigger, 0, equal) / equal (the 2012 code's tie rule).
__device__ __forceinline__ float topk_hit(int k, int bigger, int equal) {
    int slots = k - bigger;
    return slots <= 0 ? 0.0f : slots >= equal ? 1.0f : (float)slots / (float)equal;
}

// Thread mapping: one thread per image. out (3, N): -log p_label, and how much of a top-1 and of a
// top-k error the image is. The sums over the batch are a GEMM with ones.
extern "C" __global__ void logreg_forward(const float* __restrict__ labels, const float* __restrict__ probs,
                                          float* __restrict__ out, int K, int N, int topk) {
    FOR_EACH(n, N) {
        int label = (int)labels[n];
        float p = probs[label * N + n];
        int bigger = 0, equal = 0;
        for (int k = 0; k < K; ++k) {
            float q = probs[k * N + n];
            bigger += q > p;
            equal += q == p;
        }
        out[n] = -logf(p);
        out[N + n] = 1.0f - topk_hit(1, bigger, equal);
        out[2 * N + n] = 1.0f - topk_hit(topk, bigger, equal);
    }
}

// Thread mapping: one thread per (class, image): -coeff / p at the label, 0 elsewhere.
extern "C" __global__ void logreg_backward(const float* __restrict__ labels, const float* __restrict__ probs,
                                           float* __restrict__ dprobs, int K, int N, float coeff) {
    FOR_EACH(i, K * N) {
        int n = i % N, k = i / N;
        dprobs[i] = (int)labels[n] == k ? -coeff / probs[i] : 0.0f;
    }
}
