// The emulated backend's bounds check: during a launch each array argument is copied next to a page
// that cannot be read or written (after its last element, or before its first), and a kernel that
// reaches into that page stops the launch with one message naming the thread, the argument and the
// element, where a GPU would read another array's memory or fault (compute-sanitizer's memcheck, on
// the CPU). Arguments that overlap (an operation in place) are copied as one range, so a kernel sees
// them alias as it would on the device. Written arguments are copied back after the kernel.
// Arrays the kernel declares (__shared__ or local, their sizes known to the compiler) are checked by
// the compiler's own bounds checks (-fsanitize=bounds, trapping): an index past one stops the launch
// the same way. emu_fault_offset() gives the faulting instruction's place in the library, which the
// backend turns into a source line.
#pragma once
#include <dlfcn.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>
#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <vector>

enum { EMU_GUARD_NONE, EMU_GUARD_END, EMU_GUARD_START };

struct emu_guarded_range {
    char *original, *staged, *region, *guard;
    size_t bytes, region_bytes;
    bool written;
    int first_arg;                                   // the argument named when the guard page is reached
};

struct emu_guard_state {
    int mode = EMU_GUARD_NONE;
    std::vector<emu_guarded_range> ranges;
    const char* const* names = nullptr;
    char* const* starts = nullptr;                   // each argument's first byte, as staged
    const long long* bytes = nullptr;
    int count = 0;
    struct sigaction previous;
};
static emu_guard_state emu_guard;                      // one guarded launch at a time (the backend locks)
static thread_local sigjmp_buf* emu_escape = nullptr;  // where this CPU thread's block goes on a fault
static struct sigaction emu_previous_trap;
static unsigned long long emu_fault_pc = 0;            // the failing instruction, from the library's start

extern "C" unsigned long long emu_fault_offset() { return emu_fault_pc; }

static void emu_note_fault_place(void* context) {
    void* pc = nullptr;
#if defined(__x86_64__) && defined(REG_RIP)
    pc = (void*)static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    pc = (void*)static_cast<ucontext_t*>(context)->uc_mcontext.pc;
#endif
    Dl_info where;
    if (pc && dladdr(pc, &where) && where.dli_fbase)
        emu_fault_pc = (unsigned long long)(static_cast<char*>(pc) - static_cast<char*>(where.dli_fbase));
}

static const char* emu_fault_verb(void* context) {
#if defined(__x86_64__) && defined(REG_ERR)
    return (static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_ERR] & 2) ? "writes" : "reads";
#else
    (void)context;
    return "reaches";
#endif
}

// A fault the checks own: the launch fails with "thread (x,y,z) <what>" and the faulting instruction's
// place, and the thread's block is left for the launcher's loop.
[[noreturn]] static void emu_stop_at_fault(void* context, const char* format, ...) {
    emu_note_fault_place(context);
    char what[384];
    va_list args;
    va_start(args, format);
    std::vsnprintf(what, sizeof what, format, args);
    va_end(args);
    emu_fail("thread (%u,%u,%u) %s", threadIdx.x, threadIdx.y, threadIdx.z, what);
    siglongjmp(*emu_escape, 1);
}

// A bounds check the compiler put in a kernel failed (its trap instruction).
static void emu_on_trap(int signal, siginfo_t*, void* context) {
    if (emu_escape) emu_stop_at_fault(context, "indexes an array it declares (__shared__ or local) past its size");
    sigaction(signal, &emu_previous_trap, nullptr);
}

static void emu_on_fault(int signal, siginfo_t* info, void* context) {
    char* address = static_cast<char*>(info->si_addr);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    for (const emu_guarded_range& r : emu_guard.ranges) {
        if (!r.guard || address < r.guard || address >= r.guard + page || !emu_escape) continue;
        int a = r.first_arg;
        for (int i = 0; i < emu_guard.count; ++i) {  // the argument whose edge the kernel crossed
            char* start = emu_guard.starts[i];
            bool at_edge = emu_guard.mode == EMU_GUARD_END ? start + emu_guard.bytes[i] == r.staged + r.bytes
                                                           : start == r.staged;
            if (emu_guard.bytes[i] >= 0 && start >= r.staged && start <= r.staged + r.bytes && at_edge) { a = i; break; }
        }
        long long offset = address - emu_guard.starts[a];
        long long element = offset >= 0 ? offset / 4 : -((-offset + 3) / 4);
        emu_stop_at_fault(context, "%s element %lld of %s, which has %lld", emu_fault_verb(context), element,
                          emu_guard.names[a], emu_guard.bytes[a] / 4);
    }
    if (emu_dynamic.guard && address >= emu_dynamic.guard && address < emu_dynamic.guard + page && emu_escape)
        emu_stop_at_fault(context, "%s byte %lld of the dynamic shared memory, which has %zu bytes",
                          emu_fault_verb(context), (long long)(address - emu_dynamic.data), emu_dynamic.bytes);
    // Not a guard page: the fault is someone else's; the handler before ours takes it when it repeats.
    sigaction(signal, &emu_guard.previous, nullptr);
}

// Copies the `count` arguments (pointers[i], bytes[i] bytes; bytes < 0 for a scalar) next to guard
// pages and points pointers[i] at the copies. False when memory for them cannot be had.
static bool emu_guard_begin(int mode, int count, void** pointers, const long long* bytes, const int* written,
                            const char* const* names, char** starts) {
    emu_guard.mode = mode;
    emu_guard.ranges.clear();
    emu_fault_pc = 0;
    struct sigaction ours;
    std::memset(&ours, 0, sizeof ours);
    ours.sa_flags = SA_SIGINFO | SA_NODEFER;         // a jump out of the handler leaves the signal unblocked
    sigemptyset(&ours.sa_mask);
    ours.sa_sigaction = emu_on_trap;
    sigaction(SIGILL, &ours, &emu_previous_trap);
    if (mode == EMU_GUARD_NONE) return true;
    emu_guard.names = names, emu_guard.starts = starts, emu_guard.bytes = bytes, emu_guard.count = count;
    ours.sa_sigaction = emu_on_fault;
    sigaction(SIGSEGV, &ours, &emu_guard.previous);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    std::vector<int> order;
    for (int i = 0; i < count; ++i)
        if (bytes[i] >= 0) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return pointers[a] < pointers[b]; });
    std::vector<std::vector<int>> members;
    int merging = -1;                                // the range that overlapping arguments join
    for (int i : order) {
        char* p = static_cast<char*>(pointers[i]);
        if (merging >= 0 && bytes[i] > 0 && p < emu_guard.ranges[merging].original + emu_guard.ranges[merging].bytes) {
            emu_guarded_range& r = emu_guard.ranges[merging];
            r.bytes = std::max(r.bytes, (size_t)(p + bytes[i] - r.original));
            r.written = r.written || written[i];
            members[merging].push_back(i);
            continue;
        }
        emu_guard.ranges.push_back(emu_guarded_range{p, nullptr, nullptr, nullptr, (size_t)bytes[i], 0, written[i] != 0, i});
        members.push_back({i});
        if (bytes[i] > 0) merging = (int)emu_guard.ranges.size() - 1;
    }
    for (size_t k = 0; k < emu_guard.ranges.size(); ++k) {
        emu_guarded_range& r = emu_guard.ranges[k];
        size_t data_pages = (r.bytes + page - 1) / page;
        r.region_bytes = (data_pages + 1) * page;
        void* region = mmap(nullptr, r.region_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (region == MAP_FAILED) { r.region = nullptr; return false; }
        r.region = static_cast<char*>(region);
        if (mode == EMU_GUARD_END || r.bytes == 0) {  // an empty array: every access faults
            r.guard = r.region + data_pages * page;
            r.staged = r.guard - r.bytes;
        } else {
            r.guard = r.region;
            r.staged = r.region + page;
        }
        mprotect(r.guard, page, PROT_NONE);
        if (r.bytes) std::memcpy(r.staged, r.original, r.bytes);
        for (int i : members[k]) {
            starts[i] = r.staged + (static_cast<char*>(pointers[i]) - r.original);
            pointers[i] = starts[i];
        }
    }
    emu_race_arguments(count, names, starts, bytes, written);
    return true;
}

// Copies the written arguments back (unless the launch failed) and gives the memory back.
static void emu_guard_end() {
    sigaction(SIGILL, &emu_previous_trap, nullptr);
    if (emu_guard.mode == EMU_GUARD_NONE) return;
    emu_race_end();
    sigaction(SIGSEGV, &emu_guard.previous, nullptr);
    for (emu_guarded_range& r : emu_guard.ranges) {
        if (!r.region) continue;
        if (r.written && r.bytes && !emu_failed.load()) std::memcpy(r.original, r.staged, r.bytes);
        munmap(r.region, r.region_bytes);
    }
    emu_guard.ranges.clear();
    emu_guard.mode = EMU_GUARD_NONE;
}
