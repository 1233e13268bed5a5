// Counter-based random numbers on the GPU path: the twins of convnet/random.py, so that a mask or a
// noise sample depends only on (key, index) and is the same on every backend and device.
#pragma once

__device__ __forceinline__ unsigned int fmix32(unsigned int h) {
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

// u(key, i) in [0, 1), exact in float32: random.uniform.
__device__ __forceinline__ float uniform01(unsigned int key, int i) {
    return (float)(fmix32((unsigned int)i * 0x9E3779B9u + key) >> 8) * (1.0f / 16777216.0f);
}

// A standard normal from two uniforms of the keys key and key2 (Box-Muller): random.normal.
__device__ __forceinline__ float normal01(unsigned int key, unsigned int key2, int i) {
    float u1 = uniform01(key, i), u2 = uniform01(key2, i);
    return sqrtf(-2.0f * logf(1.0f - u1)) * cosf(6.2831853071795865f * u2);
}
