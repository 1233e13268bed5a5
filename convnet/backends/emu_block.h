// The emulated backend's blocks: a block's threads as fibers (ucontext), so that what a block's threads
// share can be emulated on one CPU thread: __shared__ memory, __syncthreads, and the warp operations
// (__shfl*_sync, __syncwarp, __ballot_sync, __any_sync, __all_sync).
//
// A fiber runs until it reaches a barrier or a warp operation, or returns; when no fiber can run, the
// scheduler releases what is complete: a warp operation once every lane its mask names has reached it,
// a __syncthreads once every thread of the block has. It is stricter than a GPU, on purpose: what CUDA
// leaves undefined stops the launch with one message naming the block, the thread and the source line
// (a barrier some threads skip or return before, threads waiting at different barriers, a mask that
// leaves out the calling lane or names a lane the block does not have); a shuffle that reads a lane
// outside its mask gets a value with every bit set (a NaN, where CUDA's is undefined). Between two
// barriers the fibers run one after another in thread order, or in reverse order when asked
// (CONVNET_EMULATED_ORDER=reverse): a kernel whose result depends on that order has a race that a GPU
// may or may not show.
//
// __shared__ is `static thread_local`: one CPU thread runs one block at a time and all of that block's
// fibers, so each block running at once has its own copy, as on a GPU; it holds NaN bytes when a block
// begins (emu_undefined_at_block_start), not the previous block's values. Dynamic shared memory (an
// `extern __shared__ T name[];` in a kernel, its bytes given at launch) is a buffer per CPU thread that
// the backend's source rewrite points the name at (emu_dynamic_shared()): filled with NaN bytes at
// each block's start (CUDA leaves it undefined), with a guard page right after its last byte.
#pragma once
#include <ucontext.h>
#include <sys/mman.h>
#include <unistd.h>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <vector>

// ---- a launch's first failure: the launcher returns it to Python -----------------------------------

static std::atomic<bool> emu_failed{false};
static char emu_failure[512];

static void emu_fail(const char* format, ...) {
    bool expected = false;
    if (!emu_failed.compare_exchange_strong(expected, true)) return;      // the first failure is kept
    int n = std::snprintf(emu_failure, sizeof emu_failure, "block (%u,%u,%u): ", blockIdx.x, blockIdx.y, blockIdx.z);
    va_list args;
    va_start(args, format);
    std::vsnprintf(emu_failure + n, sizeof emu_failure - n, format, args);
    va_end(args);
}

static const char* emu_launch_result() { return emu_failed.load() ? emu_failure : nullptr; }
static void emu_launch_begin() { emu_failed.store(false); }

// ---- fibers ----------------------------------------------------------------------------------------

enum { EMU_RUNNABLE, EMU_AT_BARRIER, EMU_AT_WARP_OP, EMU_DONE };
enum { EMU_SYNCWARP, EMU_SHFL_IDX, EMU_SHFL_UP, EMU_SHFL_DOWN, EMU_SHFL_XOR, EMU_BALLOT, EMU_ANY, EMU_ALL };
static const char* const emu_warp_op_names[] = {"__syncwarp", "__shfl_sync", "__shfl_up_sync", "__shfl_down_sync",
                                                 "__shfl_xor_sync", "__ballot_sync", "__any_sync", "__all_sync"};

struct emu_fiber {
    ucontext_t context;
    emu_dim3 index;
    int state, line;
    int op, argument, width;              // the warp operation it waits in, and what the lane gave it
    unsigned mask;
    unsigned long long value, result;
};

struct emu_block {
    ucontext_t scheduler;
    std::vector<emu_fiber> fibers;
    unsigned current;
    void (*body)(void*);
    void* closure;
};

static thread_local emu_block* emu_this_block = nullptr;

// Each CPU thread keeps its fibers' stacks from block to block. Below each stack, a page that faults:
// a kernel that overflows its stack stops with a segmentation fault instead of writing over another's.
struct emu_stacks {
    static const size_t size = 256 * 1024, guard = 4096;
    std::vector<char*> stacks;
    char* get(size_t i) {
        while (stacks.size() <= i) {
            void* p = mmap(nullptr, size + guard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) return nullptr;
            mprotect(p, guard, PROT_NONE);
            stacks.push_back(static_cast<char*>(p) + guard);
        }
        return stacks[i];
    }
    ~emu_stacks() { for (char* s : stacks) munmap(s - guard, size + guard); }
};
static thread_local emu_stacks emu_fiber_stacks;

static const char* emu_where(const emu_fiber& f) {
    static thread_local char text[4][48];
    static thread_local int next = 0;
    char* out = text[next++ % 4];
    std::snprintf(out, sizeof text[0], "thread (%u,%u,%u)", f.index.x, f.index.y, f.index.z);
    return out;
}

static void emu_fiber_main() {
    emu_block* b = emu_this_block;
    b->body(b->closure);
    b->fibers[b->current].state = EMU_DONE;          // returns to the scheduler (uc_link)
}

// The fiber gives the CPU back to the scheduler until released.
static void emu_block_wait(emu_fiber& f, int state, int line) {
    f.state = state;
    f.line = line;
    swapcontext(&f.context, &emu_this_block->scheduler);
}

static inline void emu_syncthreads(int line) {
    emu_block* b = emu_this_block;
    emu_block_wait(b->fibers[b->current], EMU_AT_BARRIER, line);
}

static unsigned long long emu_warp_op(int op, int line, unsigned mask, unsigned long long value, int argument,
                                      int width) {
    emu_block* b = emu_this_block;
    emu_fiber& f = b->fibers[b->current];
    f.op = op, f.mask = mask, f.value = value, f.argument = argument, f.width = width;
    emu_block_wait(f, EMU_AT_WARP_OP, line);
    return f.result;
}

// The lane whose value lane i reads in a shuffle (i itself where CUDA gives a lane its own value back).
static int emu_source_lane(const emu_fiber& f, int i) {
    int w = f.width, first = i & ~(w - 1);
    switch (f.op) {
    case EMU_SHFL_IDX: return first + (f.argument & (w - 1));
    case EMU_SHFL_UP: return (i - first) >= f.argument ? i - f.argument : i;
    case EMU_SHFL_DOWN: return (i - first) + f.argument < w ? i + f.argument : i;
    case EMU_SHFL_XOR: { int j = i ^ f.argument; return j >= first + w ? i : j; }   // later groups: its own
    default: return i;
    }
}

// A warp operation whose lanes have all arrived: checks what CUDA leaves undefined, then gives each lane
// its result. False when it failed.
static bool emu_complete_warp_op(emu_fiber* lanes, unsigned count, unsigned first) {
    const emu_fiber& f = lanes[first];
    const char* name = emu_warp_op_names[f.op];
    for (unsigned i = 0; i < 32; ++i) {
        if (!(f.mask >> i & 1)) continue;
        if (i >= count) {
            emu_fail("%s %s (line %d): its mask 0x%08x names lane %u, which this block's last warp (%u threads) "
                     "does not have", emu_where(f), name, f.line, f.mask, i, count);
            return false;
        }
        const emu_fiber& g = lanes[i];
        if (g.state != EMU_AT_WARP_OP || g.line != f.line || g.op != f.op || g.mask != f.mask) {
            const char* there = g.state == EMU_DONE ? "has returned"
                              : g.state == EMU_AT_BARRIER ? "waits at a __syncthreads" : "waits in another warp operation";
            emu_fail("%s %s (line %d, mask 0x%08x): lane %u, which the mask names, %s (line %d)",
                     emu_where(f), name, f.line, f.mask, i, there, g.line);
            return false;
        }
        if (f.op >= EMU_SHFL_IDX && f.op <= EMU_SHFL_XOR && (g.width < 1 || g.width > 32 || (g.width & (g.width - 1)))) {
            emu_fail("%s %s (line %d): width %d is not a power of 2 from 1 to 32", emu_where(g), name, f.line, g.width);
            return false;
        }
    }
    unsigned long long votes = 0;
    for (unsigned i = 0; i < count; ++i)
        if ((f.mask >> i & 1) && lanes[i].value) votes |= 1ull << i;
    for (unsigned i = 0; i < count; ++i) {
        if (!(f.mask >> i & 1)) continue;
        emu_fiber& g = lanes[i];
        if (f.op >= EMU_SHFL_IDX && f.op <= EMU_SHFL_XOR) {
            // A lane outside the mask: CUDA's value is undefined; here all bits set, a NaN for floats.
            int s = emu_source_lane(g, (int)i);
            g.result = s >= 0 && s < 32 && (f.mask >> s & 1) ? lanes[s].value : ~0ull;
        } else if (f.op == EMU_BALLOT) {
            g.result = votes;
        } else if (f.op == EMU_ANY) {
            g.result = votes != 0;
        } else if (f.op == EMU_ALL) {
            g.result = votes == f.mask;
        }
    }
    for (unsigned i = 0; i < count; ++i)
        if (f.mask >> i & 1) lanes[i].state = EMU_RUNNABLE;
    emu_race_warp_sync((unsigned)(lanes - emu_this_block->fibers.data()) / 32);   // its lanes are ordered now
    return true;
}

// When no fiber can run: releases the warp operations whose lanes have all arrived, or else the
// block's barrier. False when the block is finished, or failed.
static bool emu_release(emu_block& b) {
    unsigned n = (unsigned)b.fibers.size();
    bool released = false;
    for (unsigned w = 0; w < n; w += 32) {
        unsigned count = n - w < 32 ? n - w : 32;
        emu_fiber* lanes = &b.fibers[w];
        for (unsigned i = 0; i < count; ++i) {
            emu_fiber& f = lanes[i];
            if (f.state != EMU_AT_WARP_OP) continue;
            if (!(f.mask >> i & 1)) {
                emu_fail("%s %s (line %d): its mask 0x%08x leaves out its own lane %u", emu_where(f),
                         emu_warp_op_names[f.op], f.line, f.mask, i);
                return false;
            }
            if (!emu_complete_warp_op(lanes, count, i)) return false;
            released = true;
        }
    }
    if (released) return true;
    const emu_fiber *waiting = nullptr, *done = nullptr;
    for (const emu_fiber& f : b.fibers) {
        if (f.state == EMU_DONE) { done = done ? done : &f; continue; }
        if (waiting && f.line != waiting->line) {
            emu_fail("%s waits at the __syncthreads on line %d, %s at the one on line %d", emu_where(*waiting),
                     waiting->line, emu_where(f), f.line);
            return false;
        }
        waiting = waiting ? waiting : &f;
    }
    if (!waiting) return false;                        // every thread has returned
    if (done) {
        emu_fail("%s waits at the __syncthreads on line %d, which %s never reaches (it has returned)",
                 emu_where(*waiting), waiting->line, emu_where(*done));
        return false;
    }
    for (emu_fiber& f : b.fibers) f.state = EMU_RUNNABLE;
    emu_race_barrier();
    return true;
}

// Runs every thread of the current block (blockIdx, blockDim and gridDim already set) through body().
template <class Body>
static void emu_run_block(bool reverse, Body& body) {
    if (emu_failed.load()) return;                    // another block failed: the launch is over
    unsigned n = blockDim.x * blockDim.y * blockDim.z;
    // Kept from block to block: a fault caught by emu_guard.h leaves the block by a jump, past any destructor.
    static thread_local emu_block b;
    b.fibers.resize(n);
    b.body = [](void* closure) { (*static_cast<Body*>(closure))(); };
    b.closure = &body;
    for (unsigned t = 0; t < n; ++t) {
        emu_fiber& f = b.fibers[t];
        f.index = emu_dim3{t % blockDim.x, t / blockDim.x % blockDim.y, t / blockDim.x / blockDim.y};
        f.state = EMU_RUNNABLE;
        f.line = 0;
        char* stack = emu_fiber_stacks.get(t);
        if (!stack) { emu_fail("no memory for the stack of thread %u of %u", t, n); return; }
        getcontext(&f.context);
        f.context.uc_stack.ss_sp = stack;
        f.context.uc_stack.ss_size = emu_stacks::size;
        f.context.uc_link = &b.scheduler;
        makecontext(&f.context, emu_fiber_main, 0);
    }
    emu_this_block = &b;
    do {
        for (unsigned i = 0; i < n && !emu_failed.load(); ++i) {
            unsigned t = reverse ? n - 1 - i : i;
            if (b.fibers[t].state != EMU_RUNNABLE) continue;
            b.current = t;
            threadIdx = b.fibers[t].index;
            swapcontext(&b.scheduler, &b.fibers[t].context);
        }
    } while (!emu_failed.load() && emu_release(b));
    emu_this_block = nullptr;
}

// ---- dynamic shared memory ---------------------------------------------------------------------------

struct emu_dynamic_buffer {
    char *region = nullptr, *data = nullptr, *guard = nullptr;
    size_t region_bytes = 0, bytes = 0;
    ~emu_dynamic_buffer() { if (region) munmap(region, region_bytes); }

    // A block's `bytes` of dynamic shared memory, ending where the guard page starts. False: no memory.
    bool begin(size_t n) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE), rounded = (n + 15) / 16 * 16;   // 16-byte aligned
        size_t need = (rounded + page - 1) / page * page + page;
        if (need > region_bytes) {
            if (region) munmap(region, region_bytes);
            void* p = mmap(nullptr, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) { region = nullptr, region_bytes = 0; return false; }
            region = static_cast<char*>(p), region_bytes = need;
            guard = region + need - page;
            mprotect(guard, page, PROT_NONE);
        }
        bytes = n;
        data = guard - rounded;
        std::memset(data, 0xff, rounded);             // every float a NaN
        emu_race_shared(data, n, nullptr);
        return true;
    }
};
static thread_local emu_dynamic_buffer emu_dynamic;

static inline void* emu_dynamic_shared() { return emu_dynamic.data; }

// ---- static shared memory ----------------------------------------------------------------------------

// Counts the blocks this CPU thread has begun (the launcher calls emu_begin_block before each). The
// backend's source rewrite follows each `__shared__ T name...;` with emu_undefined_at_block_start(name,
// seen): the first thread of a block to reach the declaration fills the variable with set bits (every
// float a NaN), as CUDA leaves it undefined; the block's other threads find `seen` current and leave it.
// A thread can only use the variable after passing its declaration, so nothing it wrote is lost. The
// race check (emu_race.h) starts keeping the variable's accesses there, by its name.
static thread_local unsigned long long emu_block_serial = 0;
static inline void emu_begin_block() {
    ++emu_block_serial;
    emu_race_block_begin();
}

template <class T>
static inline void emu_undefined_at_block_start(T& variable, unsigned long long& seen, const char* name) {
    if (seen == emu_block_serial) return;
    seen = emu_block_serial;
    std::memset((void*)&variable, 0xff, sizeof variable);
    emu_race_shared((void*)&variable, sizeof variable, name);
}

// ---- what kernels call -----------------------------------------------------------------------------

template <class T>
static T emu_shuffle(int op, int line, unsigned mask, T var, int argument, int width = 32) {
    static_assert(sizeof(T) <= 8, "a shuffle moves at most 8 bytes");
    unsigned long long bits = 0;
    std::memcpy(&bits, &var, sizeof(T));
    bits = emu_warp_op(op, line, mask, bits, argument, width);
    T out;
    std::memcpy(&out, &bits, sizeof(T));
    return out;
}

#define __shared__ static thread_local
#define __syncthreads() emu_syncthreads(__LINE__)
#define __syncwarp(...) ((void)emu_warp_op(EMU_SYNCWARP, __LINE__, emu_mask_or_all(__VA_ARGS__), 0, 0, 32))
#define __shfl_sync(...) emu_shuffle(EMU_SHFL_IDX, __LINE__, __VA_ARGS__)
#define __shfl_up_sync(...) emu_shuffle(EMU_SHFL_UP, __LINE__, __VA_ARGS__)
#define __shfl_down_sync(...) emu_shuffle(EMU_SHFL_DOWN, __LINE__, __VA_ARGS__)
#define __shfl_xor_sync(...) emu_shuffle(EMU_SHFL_XOR, __LINE__, __VA_ARGS__)
#define __ballot_sync(mask, predicate) ((unsigned)emu_warp_op(EMU_BALLOT, __LINE__, (mask), (predicate) != 0, 0, 32))
#define __any_sync(mask, predicate) ((int)emu_warp_op(EMU_ANY, __LINE__, (mask), (predicate) != 0, 0, 32))
#define __all_sync(mask, predicate) ((int)emu_warp_op(EMU_ALL, __LINE__, (mask), (predicate) != 0, 0, 32))
#define warpSize 32

static inline unsigned emu_mask_or_all(unsigned mask = 0xffffffffu) { return mask; }
