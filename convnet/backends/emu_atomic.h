// The emulated backend's atomic functions. A launch's blocks run on several CPU threads at once
// (OpenMP), so these are atomic on the CPU too (GCC's __atomic builtins); each returns the value the
// address held before, as CUDA's do. Floats add by compare-and-swap on their bits. Like CUDA's, they
// order nothing else (relaxed); __threadfence orders the calling thread's reads and writes.
//
// A sum by atomicAdd of floats depends on the order the adds happen in, on a GPU as here: results
// compare bit for bit only where every partial sum is exact (integer-valued floats, say).
#pragma once
#include <cstring>

template <class T>
static inline T emu_atomic_update(T* address, T (*update)(T, T), T value) {
    T old = __atomic_load_n(address, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(address, &old, update(old, value), true, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED)) {
    }
    return old;
}

template <class F, class U>
static inline F emu_atomic_float_add(F* address, F value) {
    static_assert(sizeof(F) == sizeof(U), "a float and the integer of its bits");
    U* bits = reinterpret_cast<U*>(address);
    U old = __atomic_load_n(bits, __ATOMIC_RELAXED), sum;
    F before;
    do {
        std::memcpy(&before, &old, sizeof(F));
        F after = before + value;
        std::memcpy(&sum, &after, sizeof(F));
    } while (!__atomic_compare_exchange_n(bits, &old, sum, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return before;
}

#define EMU_INTEGER_ATOMICS(T)                                                                            \
    static inline T atomicAdd(T* a, T v) { return __atomic_fetch_add(a, v, __ATOMIC_RELAXED); }          \
    static inline T atomicExch(T* a, T v) { return __atomic_exchange_n(a, v, __ATOMIC_RELAXED); }        \
    static inline T atomicAnd(T* a, T v) { return __atomic_fetch_and(a, v, __ATOMIC_RELAXED); }          \
    static inline T atomicOr(T* a, T v) { return __atomic_fetch_or(a, v, __ATOMIC_RELAXED); }            \
    static inline T atomicXor(T* a, T v) { return __atomic_fetch_xor(a, v, __ATOMIC_RELAXED); }          \
    static inline T atomicMin(T* a, T v) {                                                               \
        return emu_atomic_update<T>(a, [](T x, T y) { return y < x ? y : x; }, v);                      \
    }                                                                                                     \
    static inline T atomicMax(T* a, T v) {                                                               \
        return emu_atomic_update<T>(a, [](T x, T y) { return y > x ? y : x; }, v);                      \
    }                                                                                                     \
    static inline T atomicCAS(T* a, T compare, T v) {                                                    \
        __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);          \
        return compare;                                                                                   \
    }
EMU_INTEGER_ATOMICS(int)
EMU_INTEGER_ATOMICS(unsigned int)
EMU_INTEGER_ATOMICS(unsigned long long)
#undef EMU_INTEGER_ATOMICS

static inline int atomicSub(int* a, int v) { return __atomic_fetch_sub(a, v, __ATOMIC_RELAXED); }
static inline unsigned int atomicSub(unsigned int* a, unsigned int v) { return __atomic_fetch_sub(a, v, __ATOMIC_RELAXED); }
static inline float atomicAdd(float* a, float v) { return emu_atomic_float_add<float, unsigned int>(a, v); }
static inline double atomicAdd(double* a, double v) { return emu_atomic_float_add<double, unsigned long long>(a, v); }
static inline float atomicExch(float* a, float v) {
    unsigned int bits, old;
    std::memcpy(&bits, &v, sizeof bits);
    old = __atomic_exchange_n(reinterpret_cast<unsigned int*>(a), bits, __ATOMIC_RELAXED);
    float out;
    std::memcpy(&out, &old, sizeof out);
    return out;
}
// CUDA's counters that wrap: ((old >= limit) ? 0 : old + 1) and ((old == 0 || old > limit) ? limit : old - 1).
static inline unsigned int atomicInc(unsigned int* a, unsigned int limit) {
    return emu_atomic_update<unsigned int>(a, [](unsigned int x, unsigned int l) { return x >= l ? 0u : x + 1; }, limit);
}
static inline unsigned int atomicDec(unsigned int* a, unsigned int limit) {
    return emu_atomic_update<unsigned int>(a, [](unsigned int x, unsigned int l) { return x == 0 || x > l ? l : x - 1; },
                                           limit);
}

static inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
