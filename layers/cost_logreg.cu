// cost.logreg: labels (1, N) hold class numbers as floats; probs is (K, N).
#include "common.cuh"

// Thread mapping: one thread per image. out (3, N): -coeff log p_label, and whether the image is a
// top-1 and a top-k error (k or more classes strictly more probable than its label). The sums over
// the batch are a GEMM with ones.
extern "C" __global__ void logreg_forward(const float* __restrict__ labels, const float* __restrict__ probs,
                                          float* __restrict__ out, int K, int N, int topk, float coeff) {
    FOR_EACH(n, N) {
        int label = (int)labels[n];
        float p = probs[label * N + n];
        int above = 0;
        for (int k = 0; k < K; ++k) above += probs[k * N + n] > p;
        out[n] = -coeff * logf(p);
        out[N + n] = above >= 1 ? 1.0f : 0.0f;
        out[2 * N + n] = above >= topk ? 1.0f : 0.0f;
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
