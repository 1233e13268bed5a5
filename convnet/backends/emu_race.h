// The emulated backend's race check (CONVNET_EMULATED_RACECHECK=on): compute-sanitizer's racecheck on
// the CPU, for global memory and shared memory alike. The emulator runs a block's threads one after
// another, so two threads that touch one word with nothing ordering them give the same result in
// either order here, while on a GPU the result is left to timing. This check finds them wherever
// they are, whatever the order.
//
// A library built for it (EMU_RACECHECK, emulated_program.py) is compiled with GCC's
// -fsanitize=thread, which puts a call before every load, store and atomic operation of the code;
// this header defines those calls itself, and no ThreadSanitizer runtime is linked (as the Linux
// kernel's KCSAN does). For every 4-byte word of what a launch's threads share (its arguments'
// guarded copies, emu_guard.h; each block's __shared__ variables and dynamic shared memory) it keeps
// the last plain write and the accesses since (reads, atomic updates), each with its thread, its
// block, how many of the block's __syncthreads had passed, how many operations its warp had done
// together (emu_block.h), and its place in the library. Two accesses to one word by two threads, at
// least one a write and not both atomic, stop the launch with one line naming both threads and the
// word, unless something orders them: a __syncthreads of their block between them, or, for two lanes
// of one warp, a warp operation. Nothing orders the threads of two blocks.
//
// The blocks run one after another on one CPU thread in such a library, which keeps the record short
// and still exact: an access stands for the earlier ones of its kind that it is ordered after (what
// races with those races with it), one access of a finished block stands for all of that kind in
// finished blocks (no thread of a finished block comes again), and two of one thread group (one
// block, barrier interval, warp and warp operation count) for the rest of the group.
//
// What it does not see: accesses the code makes through library calls (memcpy, memset), and a byte
// or a half of a word: a word is the unit, as for our kernels' float and int arrays.
#pragma once

#ifdef EMU_RACECHECK
#include <cstdlib>

#define EMU_RACE_HOOK extern "C" __attribute__((no_sanitize_thread, noinline, used))
#define EMU_UNCHECKED __attribute__((no_sanitize_thread))

struct emu_race_access {
    unsigned long long thread;                 // 1 + the thread's index in the grid; 0: none
    unsigned barriers, warp_sync, place;       // its block's __syncthreads, its warp's operations, its code
    bool atomic, write;
};

struct emu_race_word {
    emu_race_access write;                     // the last plain write
    unsigned count, capacity;                  // the accesses since: here while two, else in `more`
    emu_race_access first[2], *more;
};

// Where the words' longer lists go: chunks kept until the launch ends.
struct emu_race_chunk {
    emu_race_chunk* next;
    size_t used, size;
};
static emu_race_chunk* emu_race_chunks = nullptr;

struct emu_race_region {
    char* start;
    size_t bytes;
    emu_race_word* words;
    const char* name;                          // a __shared__ variable's; null: arguments or dynamic shared
};

enum { EMU_RACE_MAX_REGIONS = 64 };
static emu_race_region emu_race_global[EMU_RACE_MAX_REGIONS];  // the launch's arguments (one at a time)
static int emu_race_global_count = 0;
static const char* const* emu_race_names = nullptr;
static char* const* emu_race_starts = nullptr;
static const long long* emu_race_bytes = nullptr;
static const int* emu_race_written = nullptr;
static int emu_race_count = 0;
static bool emu_race_on = false;
static unsigned long long emu_race_other_pc = 0;
static char* emu_race_library = nullptr;       // where this library starts: places are offsets from it

static thread_local emu_race_region emu_race_shared_regions[EMU_RACE_MAX_REGIONS];  // this block's
static thread_local int emu_race_shared_count = 0;
static thread_local unsigned emu_race_barrier_count = 0;
static thread_local unsigned emu_race_warp_syncs[32];               // a block has at most 1024 threads

extern "C" unsigned long long emu_race_other_offset() { return emu_race_other_pc; }

EMU_UNCHECKED static emu_race_word* emu_race_words(size_t bytes) {
    return static_cast<emu_race_word*>(std::calloc(bytes / 4 + 1, sizeof(emu_race_word)));
}

EMU_UNCHECKED static void emu_race_free(emu_race_region* regions, int& count) {
    for (int i = 0; i < count; ++i) std::free(regions[i].words);
    count = 0;
}

EMU_UNCHECKED static void emu_race_add(emu_race_region* regions, int& count, char* start, size_t bytes,
                                       const char* name) {
    if (!bytes) return;
    if (count == EMU_RACE_MAX_REGIONS) {
        emu_fail("the race check keeps at most %d arrays a launch (or __shared__ variables a block)", count);
        return;
    }
    emu_race_word* words = emu_race_words(bytes);
    if (!words) { emu_fail("no memory for the race check of %zu bytes", bytes); return; }
    regions[count++] = emu_race_region{start, bytes, words, name};
}

// The launch's guarded arguments, staged (emu_guard_begin): the check starts, a region of words for
// each of emu_guard.h's ranges (arguments that overlap share one, as they share memory).
EMU_UNCHECKED static void emu_race_arguments(int count, const char* const* names, char* const* starts,
                                             const long long* bytes, const int* written) {
    emu_race_names = names, emu_race_starts = starts, emu_race_bytes = bytes, emu_race_count = count;
    emu_race_written = written;
    emu_race_other_pc = 0;
    Dl_info where;
    if (!emu_race_library && dladdr((void*)&emu_race_other_offset, &where))
        emu_race_library = static_cast<char*>(where.dli_fbase);
    for (const emu_guarded_range& r : emu_guard.ranges) emu_race_add(emu_race_global, emu_race_global_count, r.staged, r.bytes, nullptr);
    emu_race_on = true;
}

EMU_UNCHECKED static void emu_race_end() {
    emu_race_on = false;
    emu_race_free(emu_race_global, emu_race_global_count);
    emu_race_free(emu_race_shared_regions, emu_race_shared_count);
    while (emu_race_chunks) {
        emu_race_chunk* next = emu_race_chunks->next;
        std::free(emu_race_chunks);
        emu_race_chunks = next;
    }
}

// A block begins: its shared memory is new. (The barrier and warp counts go on: only accesses of one
// block are compared by them.)
EMU_UNCHECKED static void emu_race_block_begin() { emu_race_free(emu_race_shared_regions, emu_race_shared_count); }

EMU_UNCHECKED static emu_race_access* emu_race_allocate(size_t n) {
    size_t bytes = n * sizeof(emu_race_access);
    if (!emu_race_chunks || emu_race_chunks->used + bytes > emu_race_chunks->size) {
        size_t size = std::max(bytes, (size_t)1 << 20);
        emu_race_chunk* chunk = static_cast<emu_race_chunk*>(std::malloc(sizeof(emu_race_chunk) + size));
        if (!chunk) return nullptr;
        *chunk = emu_race_chunk{emu_race_chunks, 0, size};
        emu_race_chunks = chunk;
    }
    emu_race_access* p = reinterpret_cast<emu_race_access*>(reinterpret_cast<char*>(emu_race_chunks + 1) + emu_race_chunks->used);
    emu_race_chunks->used += bytes;
    return p;
}

EMU_UNCHECKED static emu_race_access& emu_race_at(emu_race_word& w, unsigned i) { return i < 2 ? w.first[i] : w.more[i - 2]; }

EMU_UNCHECKED static void emu_race_shared(void* start, size_t bytes, const char* name) {
    if (emu_race_on) emu_race_add(emu_race_shared_regions, emu_race_shared_count, static_cast<char*>(start), bytes, name);
}

EMU_UNCHECKED static void emu_race_barrier() { ++emu_race_barrier_count; }
EMU_UNCHECKED static void emu_race_warp_sync(unsigned warp) { if (warp < 32) ++emu_race_warp_syncs[warp]; }

EMU_UNCHECKED static unsigned long long emu_race_threads_per_block() {
    return (unsigned long long)blockDim.x * blockDim.y * blockDim.z;
}

EMU_UNCHECKED static emu_race_access emu_race_now(void* pc, bool atomic, bool write) {
    unsigned long long block = blockIdx.x + (unsigned long long)gridDim.x * (blockIdx.y + (unsigned long long)gridDim.y * blockIdx.z);
    unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
    // The call's return address: one byte back is in the instruction that made the access.
    unsigned place = emu_race_library ? (unsigned)(static_cast<char*>(pc) - emu_race_library - 1) : 0;
    return emu_race_access{1 + block * emu_race_threads_per_block() + t, emu_race_barrier_count,
                           t / 32 < 32 ? emu_race_warp_syncs[t / 32] : 0, place, atomic, write};
}

// Whether `before` is ordered before `now` (the same thread, or a barrier or warp operation between).
EMU_UNCHECKED static bool emu_race_ordered(const emu_race_access& before, const emu_race_access& now) {
    if (before.thread == now.thread) return true;
    unsigned long long per = emu_race_threads_per_block(), a = before.thread - 1, b = now.thread - 1;
    if (a / per != b / per) return false;      // two blocks
    if (before.barriers != now.barriers) return true;
    return (a % per) / 32 == (b % per) / 32 && before.warp_sync != now.warp_sync;
}

// Whether a kept access races with this one: two threads, unordered, one writing, not both atomic.
EMU_UNCHECKED static bool emu_race_races(const emu_race_access& kept, const emu_race_access& now) {
    return kept.thread && (kept.write || now.write) && !(kept.atomic && now.atomic) && !emu_race_ordered(kept, now);
}

EMU_UNCHECKED static void emu_race_thread_text(char* out, size_t size, unsigned long long thread, bool with_block) {
    unsigned long long per = emu_race_threads_per_block(), t = (thread - 1) % per, block = (thread - 1) / per;
    int n = std::snprintf(out, size, "thread (%llu,%llu,%llu)", t % blockDim.x, t / blockDim.x % blockDim.y,
                          t / blockDim.x / blockDim.y);
    if (with_block)
        std::snprintf(out + n, size - n, " of block (%llu,%llu,%llu)", block % gridDim.x, block / gridDim.x % gridDim.y,
                      block / gridDim.x / gridDim.y);
}

// What the word at p is called: "element 3 of argument 1 (out)", "element 40 of __shared__ part". Of
// arguments that overlap, a write is named by one the kernel writes (the others are const).
EMU_UNCHECKED static void emu_race_word_text(char* out, size_t size, const emu_race_region& region, char* p, bool write) {
    if (region.name) {
        std::snprintf(out, size, "element %lld of __shared__ %s", (long long)(p - region.start) / 4, region.name);
        return;
    }
    if (region.start == emu_dynamic.data) {
        std::snprintf(out, size, "byte %lld of the dynamic shared memory", (long long)(p - region.start));
        return;
    }
    int named = -1;
    for (int i = 0; i < emu_race_count; ++i)
        if (emu_race_bytes[i] > 0 && p >= emu_race_starts[i] && p < emu_race_starts[i] + emu_race_bytes[i] &&
            (named < 0 || (write && emu_race_written[i] && !emu_race_written[named])))
            named = i;
    if (named < 0) std::snprintf(out, size, "a word of an argument");
    else std::snprintf(out, size, "element %lld of %s", (long long)(p - emu_race_starts[named]) / 4, emu_race_names[named]);
}

[[noreturn]] EMU_UNCHECKED static void emu_race_stop(const emu_race_region& region, char* p,
                                                     const emu_race_access& now, const emu_race_access& other) {
    char word[160], them[96];
    emu_race_word_text(word, sizeof word, region, p, now.write);
    unsigned long long per = emu_race_threads_per_block();
    bool blocks = (other.thread - 1) / per != (now.thread - 1) / per;
    emu_race_thread_text(them, sizeof them, other.thread, blocks);
    const char* verb = !now.write ? "reads" : now.atomic ? "updates" : "writes";
    const char* was = !other.write ? "read" : other.atomic ? "updated" : "wrote";
    emu_fault_pc = now.place;
    emu_race_other_pc = other.place;
    emu_fail("thread (%u,%u,%u) %s %s%s, which %s %s%s %s: a race", threadIdx.x, threadIdx.y, threadIdx.z, verb,
             word, now.atomic ? " atomically" : "", them, was, other.atomic ? " atomically" : "",
             blocks ? "(the blocks of a launch run in no set order)" : "with no __syncthreads between them");
    siglongjmp(*emu_escape, 1);
}

EMU_UNCHECKED static bool emu_race_find(char* p, emu_race_region** region) {
    for (int i = 0; i < emu_race_global_count; ++i)
        if (p >= emu_race_global[i].start && p < emu_race_global[i].start + emu_race_global[i].bytes)
            return *region = &emu_race_global[i], true;
    for (int i = 0; i < emu_race_shared_count; ++i)
        if (p >= emu_race_shared_regions[i].start && p < emu_race_shared_regions[i].start + emu_race_shared_regions[i].bytes)
            return *region = &emu_race_shared_regions[i], true;
    return false;
}

// Adds `now` to the accesses kept since the word's last plain write, leaving out those it stands for.
EMU_UNCHECKED static void emu_race_keep(emu_race_word& w, const emu_race_access& now) {
    unsigned long long per = emu_race_threads_per_block(), block = (now.thread - 1) / per;
    unsigned kept = 0;
    bool finished_block = false, group = false;
    for (unsigned i = 0; i < w.count; ++i) {
        emu_race_access e = emu_race_at(w, i);
        bool stands_for = false;
        if (e.atomic == now.atomic && e.write == now.write) {
            unsigned long long b = (e.thread - 1) / per;
            if (emu_race_ordered(e, now)) {                // the same thread, or before a barrier or warp operation
                stands_for = true;
            } else if (b != block) {                       // a finished block's: one is enough
                stands_for = finished_block;
                finished_block = true;
            } else if (((e.thread - 1) % per) / 32 == ((now.thread - 1) % per) / 32) {
                stands_for = group;                        // unordered in now's warp: its group; one besides now
                group = true;
            }
        }
        if (!stands_for) emu_race_at(w, kept++) = e;
    }
    w.count = kept;
    if (w.count == w.capacity) {
        unsigned capacity = w.capacity < 2 ? 4 : w.capacity * 2;
        emu_race_access* more = emu_race_allocate(capacity - 2);
        if (!more) { emu_fail("no memory for the race check's record"); return; }
        for (unsigned i = 2; i < w.count; ++i) more[i - 2] = w.more[i - 2];
        w.more = more, w.capacity = capacity;
    }
    emu_race_at(w, w.count++) = now;
}

// One access of `size` bytes at address; pc: the instrumented code's return address.
EMU_UNCHECKED static void emu_race_access_at(void* address, size_t size, bool write, bool atomic, void* pc) {
    if (!emu_race_on || !emu_escape) return;
    char* first = static_cast<char*>(address);
    emu_race_access now = emu_race_now(pc, atomic, write);
    for (char* p = first; p < first + size; p += 4) {
        emu_race_region* region;
        if (!emu_race_find(p, &region)) continue;
        emu_race_word& w = region->words[(p - region->start) / 4];
        if (w.capacity == 0) w.capacity = 2;
        if (emu_race_races(w.write, now)) emu_race_stop(*region, p, now, w.write);
        for (unsigned i = 0; i < w.count; ++i)
            if (emu_race_races(emu_race_at(w, i), now)) emu_race_stop(*region, p, now, emu_race_at(w, i));
        if (write && !atomic) {                    // every access kept is ordered before it: it stands for all
            w.write = now;
            w.count = 0;
        } else {
            emu_race_keep(w, now);
        }
    }
}

// ---- the calls -fsanitize=thread puts in the code -------------------------------------------------

#define EMU_RACE_PLAIN(n)                                                                                      \
    EMU_RACE_HOOK void __tsan_read##n(void* a) { emu_race_access_at(a, n, false, false, __builtin_return_address(0)); } \
    EMU_RACE_HOOK void __tsan_write##n(void* a) { emu_race_access_at(a, n, true, false, __builtin_return_address(0)); } \
    EMU_RACE_HOOK void __tsan_unaligned_read##n(void* a) { emu_race_access_at(a, n, false, false, __builtin_return_address(0)); } \
    EMU_RACE_HOOK void __tsan_unaligned_write##n(void* a) { emu_race_access_at(a, n, true, false, __builtin_return_address(0)); }
EMU_RACE_PLAIN(1)
EMU_RACE_PLAIN(2)
EMU_RACE_PLAIN(4)
EMU_RACE_PLAIN(8)
EMU_RACE_PLAIN(16)
#undef EMU_RACE_PLAIN

EMU_RACE_HOOK void __tsan_read_range(void* a, unsigned long n) { emu_race_access_at(a, n, false, false, __builtin_return_address(0)); }
EMU_RACE_HOOK void __tsan_write_range(void* a, unsigned long n) { emu_race_access_at(a, n, true, false, __builtin_return_address(0)); }
EMU_RACE_HOOK void __tsan_init() {}
EMU_RACE_HOOK void __tsan_func_entry(void*) {}
EMU_RACE_HOOK void __tsan_func_exit() {}
EMU_RACE_HOOK void __tsan_atomic_thread_fence(int) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
EMU_RACE_HOOK void __tsan_atomic_signal_fence(int) { __atomic_signal_fence(__ATOMIC_SEQ_CST); }

// The atomic operations, done with the same builtins (sequentially consistent: at least what was asked).
#define EMU_RACE_ATOMICS(n, T)                                                                                 \
    EMU_RACE_HOOK T __tsan_atomic##n##_load(const volatile void* a, int) {                                    \
        emu_race_access_at((void*)a, sizeof(T), false, true, __builtin_return_address(0));            \
        return __atomic_load_n((const volatile T*)a, __ATOMIC_SEQ_CST);                                        \
    }                                                                                                          \
    EMU_RACE_HOOK void __tsan_atomic##n##_store(volatile void* a, T v, int) {                                 \
        emu_race_access_at((void*)a, sizeof(T), true, true, __builtin_return_address(0));           \
        __atomic_store_n((volatile T*)a, v, __ATOMIC_SEQ_CST);                                                 \
    }                                                                                                          \
    EMU_RACE_ATOMIC_RMW(n, T, exchange, __atomic_exchange_n)                                                   \
    EMU_RACE_ATOMIC_RMW(n, T, fetch_add, __atomic_fetch_add)                                                   \
    EMU_RACE_ATOMIC_RMW(n, T, fetch_sub, __atomic_fetch_sub)                                                   \
    EMU_RACE_ATOMIC_RMW(n, T, fetch_and, __atomic_fetch_and)                                                   \
    EMU_RACE_ATOMIC_RMW(n, T, fetch_or, __atomic_fetch_or)                                                     \
    EMU_RACE_ATOMIC_RMW(n, T, fetch_xor, __atomic_fetch_xor)                                                   \
    EMU_RACE_ATOMIC_RMW(n, T, fetch_nand, __atomic_fetch_nand)                                                 \
    EMU_RACE_HOOK bool __tsan_atomic##n##_compare_exchange_strong(volatile void* a, void* expected, T v, int, int) { \
        emu_race_access_at((void*)a, sizeof(T), true, true, __builtin_return_address(0));           \
        return __atomic_compare_exchange_n((volatile T*)a, (T*)expected, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
    }                                                                                                          \
    EMU_RACE_HOOK bool __tsan_atomic##n##_compare_exchange_weak(volatile void* a, void* expected, T v, int, int) { \
        emu_race_access_at((void*)a, sizeof(T), true, true, __builtin_return_address(0));           \
        return __atomic_compare_exchange_n((volatile T*)a, (T*)expected, v, true, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST); \
    }                                                                                                          \
    EMU_RACE_HOOK T __tsan_atomic##n##_compare_exchange_val(volatile void* a, T expected, T v, int, int) {    \
        emu_race_access_at((void*)a, sizeof(T), true, true, __builtin_return_address(0));           \
        __atomic_compare_exchange_n((volatile T*)a, &expected, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);  \
        return expected;                                                                                       \
    }
#define EMU_RACE_ATOMIC_RMW(n, T, op, builtin)                                                                 \
    EMU_RACE_HOOK T __tsan_atomic##n##_##op(volatile void* a, T v, int) {                                     \
        emu_race_access_at((void*)a, sizeof(T), true, true, __builtin_return_address(0));           \
        return builtin((volatile T*)a, v, __ATOMIC_SEQ_CST);                                                   \
    }
EMU_RACE_ATOMICS(8, unsigned char)
EMU_RACE_ATOMICS(16, unsigned short)
EMU_RACE_ATOMICS(32, unsigned int)
EMU_RACE_ATOMICS(64, unsigned long)
#undef EMU_RACE_ATOMICS
#undef EMU_RACE_ATOMIC_RMW

#else  // a library without the check: nothing to keep

static void emu_race_arguments(int, const char* const*, char* const*, const long long*, const int*) {}
static void emu_race_end() {}
static void emu_race_block_begin() {}
static void emu_race_shared(void*, size_t, const char*) {}
static void emu_race_barrier() {}
static void emu_race_warp_sync(unsigned) {}
extern "C" unsigned long long emu_race_other_offset() { return 0; }

#endif
