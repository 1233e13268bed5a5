// cost.crossent: targets t and probabilities p, both (K, N).
#include "common.cuh"

__device__ __forceinline__ float safelog(float x) { return x > 0.0f ? logf(x) : -50.0f; }

// Thread mapping: one thread per image. out (2, N): -sum_k t log p, and how much of an error the image
// is: 1 - (1 / the classes tied at the top) when one of them has t > 0.
extern "C" __global__ void crossent_forward(const float* __restrict__ t, const float* __restrict__ p,
                                            float* __restrict__ out, int K, int N) {
    FOR_EACH(n, N) {
        float best = p[n], cost = 0.0f;
        for (int k = 1; k < K; ++k) best = fmaxf(best, p[k * N + n]);
        int tied = 0, hit = 0;
        for (int k = 0; k < K; ++k) {
            float q = p[k * N + n], target = t[k * N + n];
            cost += target * safelog(q);
            tied += q == best;
            hit |= q == best && target > 0.0f;
        }
        out[n] = -cost;
        out[N + n] = 1.0f - (hit ? 1.0f / (float)tied : 0.0f);
    }
}

// Thread mapping: one thread per element: -coeff t / p.
extern "C" __global__ void crossent_backward(const float* __restrict__ t, const float* __restrict__ p,
                                             float* __restrict__ dp, float coeff, int n) {
    FOR_EACH(i, n) dp[i] = -coeff * t[i] / p[i];
}

// The gradient through the softmax p in one step, coeff (p sum_j t_j - t), with no division by p
// (the 2012 code's kCrossEntSoftmaxGrad). Thread mapping: one thread per element.
extern "C" __global__ void crossent_softmax_grad(const float* __restrict__ t, const float* __restrict__ p,
                                                 float* __restrict__ dx, float coeff, int K, int N) {
    FOR_EACH(i, K * N) {
        int n = i % N;
        float total = 0.0f;
        for (int k = 0; k < K; ++k) total += t[k * N + n];
        dx[i] = coeff * (p[i] * total - t[i]);
    }
}
