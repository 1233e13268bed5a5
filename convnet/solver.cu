// The paper's update (section 5) for one weight matrix, in place:
//   inc = mom * inc - decay * w - rate * grad;  w += inc
// with decay = wc * eps and rate = eps / batch size (grad is the gradient of the batch's summed cost).
// Thread mapping: one thread per weight.
#include "common.cuh"

extern "C" __global__ void sgd_update(float* __restrict__ w, float* __restrict__ inc, const float* __restrict__ grad,
                                      float mom, float decay, float rate, int n) {
    FOR_EACH(i, n) {
        float v = mom * inc[i] - decay * w[i] - rate * grad[i];
        inc[i] = v;
        w[i] += v;
    }
}
