// cost.msm: labels (1, N), energies e (K, N), sets of k classes. Thread mapping: one thread per image,
// building its lattices of log elementary symmetric polynomials in four workspaces of (N, K + 2, k + 1)
// floats (cost_msm.py's lattices and set_marginals, the same arithmetic).
#include "common.cuh"

#define NEG_INF (-(3.402823466e+38f * 2.0f))

__device__ __forceinline__ float logadd(float a, float b) {
    float m = fmaxf(a, b);
    return m == NEG_INF ? m : m + log1pf(expf(-fabsf(a - b)));
}

// The weights' logs: w[j] = e[j] - shift, and -inf for the class skipped (the label, or none: -1).
__device__ __forceinline__ float msm_weight(const float* e, float shift, int skip, int j, int N, int n) {
    return j == skip ? NEG_INF : e[j * N + n] - shift;
}

// F[j][s] = log e_s(w_0..w_{j-1}), B[j][s] = log e_s(w_j..w_{K-1}), s = 0..k; returns log e_k(all).
__device__ float msm_lattices(const float* e, float shift, int skip, float* F, float* B, int K, int N, int k,
                              int n) {
    int S = k + 1;
    for (int j = 0; j <= K + 1; ++j)
        for (int s = 0; s <= k; ++s) F[j * S + s] = B[j * S + s] = s == 0 ? 0.0f : NEG_INF;
    for (int j = 1; j <= K; ++j) {
        float w = msm_weight(e, shift, skip, j - 1, N, n);
        for (int s = 1; s <= k; ++s) F[j * S + s] = logadd(F[(j - 1) * S + s], F[(j - 1) * S + s - 1] + w);
    }
    for (int j = K - 1; j >= 0; --j) {
        float w = msm_weight(e, shift, skip, j, N, n);
        for (int s = 1; s <= k; ++s) B[j * S + s] = logadd(B[(j + 1) * S + s], B[(j + 1) * S + s - 1] + w);
    }
    return F[K * S + k];
}

// P(class i in S) for sets of k: its weight times the (k-1)-sets of the others, over the total.
__device__ float msm_marginal(float w, float log_z, const float* F, const float* B, int i, int k) {
    if (k == 0) return 0.0f;
    int S = k + 1;
    float inner = NEG_INF;
    for (int s = 0; s < k; ++s) inner = logadd(inner, F[i * S + s] + B[(i + 1) * S + k - 1 - s]);
    return expf(w + inner - log_z);
}

// out (3, N): -log P(label in S), and how much of a top-1 and of a top-k error the image is (ranked by
// the energies, ties as fractions); grad (K, N) = coeff (P(i in S) - P(i in S | label in S)).
extern "C" __global__ void msm_image(const float* __restrict__ labels, const float* __restrict__ e,
                                     float* __restrict__ F, float* __restrict__ B, float* __restrict__ F2,
                                     float* __restrict__ B2, float* __restrict__ out, float* __restrict__ grad,
                                     int K, int N, int k, float coeff) {
    FOR_EACH(n, N) {
        int label = (int)labels[n], size = (K + 2) * (k + 1);
        float* f = F + (long long)n * size, *b = B + (long long)n * size;
        float* f2 = F2 + (long long)n * size, *b2 = B2 + (long long)n * size;
        float shift = e[n];
        for (int j = 1; j < K; ++j) shift = fmaxf(shift, e[j * N + n]);
        float log_z = msm_lattices(e, shift, -1, f, b, K, N, k, n);
        float log_z_given = msm_lattices(e, shift, label, f2, b2, K, N, k - 1, n);
        float e_label = e[label * N + n];
        out[n] = -(e_label - shift + log_z_given - log_z);
        int bigger = 0, equal = 0;
        for (int j = 0; j < K; ++j) {
            float w = e[j * N + n];
            bigger += w > e_label;
            equal += w == e_label;
            float p = msm_marginal(w - shift, log_z, f, b, j, k);
            float given = j == label ? 1.0f : msm_marginal(w - shift, log_z_given, f2, b2, j, k - 1);
            grad[j * N + n] = coeff * (p - given);
        }
        int slots1 = 1 - bigger, slotsk = k - bigger;
        out[N + n] = 1.0f - (slots1 <= 0 ? 0.0f : slots1 >= equal ? 1.0f : (float)slots1 / equal);
        out[2 * N + n] = 1.0f - (slotsk <= 0 ? 0.0f : slotsk >= equal ? 1.0f : (float)slotsk / equal);
    }
}
