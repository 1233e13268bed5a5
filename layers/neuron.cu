// neuron: elementwise activations; `type` is the position of the neuron in neuron.py's NEURONS
// (ident, relu, brelu, softrelu, logistic, tanh, abs, square, sqrt, linear, nrelu, drelu). Thread
// mapping: one thread per element.
#include "common.cuh"
#include "random.cuh"

// noisy (nrelu in training): the standard normal of element i from the keys key and key2.
extern "C" __global__ void neuron_forward(const float* __restrict__ x, float* __restrict__ y, int type, float a,
                                          float b, int noisy, unsigned int key, unsigned int key2, int n) {
    FOR_EACH(i, n) {
        float v = x[i], out;
        switch (type) {
            case 1: out = fmaxf(v, 0.0f); break;
            case 2: out = fminf(fmaxf(v, 0.0f), a); break;
            case 3: out = v > 4.0f ? v : log1pf(expf(v)); break;                      // as the 2012 code
            case 4: out = 0.5f * tanhf(0.5f * v) + 0.5f; break;                     // 1 / (1 + e^-v)
            case 5: out = a * tanhf(b * v); break;
            case 6: out = fabsf(v); break;
            case 7: out = v * v; break;
            case 8: out = sqrtf(v); break;
            case 9: out = a * v + b; break;
            case 10: {
                float r = fmaxf(v, 0.0f);
                out = noisy ? fmaxf(r + r * normal01(key, key2, i), 0.0f) : r;
                break;
            }
            case 11: out = v - a * tanhf(v / a); break;
            default: out = v;
        }
        y[i] = out;
    }
}

extern "C" __global__ void neuron_backward(const float* __restrict__ x, const float* __restrict__ y,
                                           const float* __restrict__ dy, float* __restrict__ dx, int type, float a,
                                           float b, int n) {
    FOR_EACH(i, n) {
        float g = dy[i], v = x[i], out = y[i], d;
        switch (type) {
            case 1: case 10: d = out > 0.0f ? g : 0.0f; break;        // nrelu: the noise held fixed
            case 2: d = (out > 0.0f && out < a) ? g : 0.0f; break;
            case 3: d = v > 4.0f ? g : g * (0.5f * tanhf(0.5f * v) + 0.5f); break;
            case 4: d = g * out * (1.0f - out); break;
            case 5: { float t = tanhf(b * v); d = g * (a * b) * (1.0f - t * t); break; }
            case 6: d = v > 0.0f ? g : -g; break;                       // -1 at 0, as the 2012 code
            case 7: d = 2.0f * v * g; break;
            case 8: d = g / (2.0f * out); break;
            case 9: d = g * a; break;
            case 11: { float t = tanhf(v / a); d = g * t * t; break; }
            default: d = g;
        }
        dx[i] = d;
    }
}
