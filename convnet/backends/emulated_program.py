"""The C++ program the emulated backend compiles for a .cu file: the file (its shared memory
declarations rewritten for emu_block.h: dynamic ones to its buffer, static ones made undefined at
each block's start), compiled against cuda_compat.h, and one launcher per kernel that runs every
block of a grid (in parallel over OpenMP threads where the compiler has OpenMP) and every thread of a
block (one after the other, or as emu_block.h's fibers where the file's threads wait for each other),
with emu_guard.h's checks around it; or the same with emu_race.h's race check, built for it.
"""
import os
import re

import numpy as np

from ..kernels import INCLUDE
from ..native_build import read

HERE = os.path.dirname(os.path.abspath(__file__))
HEADER = os.path.join(HERE, "cuda_compat.h")
HEADERS = [HEADER] + [os.path.join(HERE, name) for name in ("emu_block.h", "emu_guard.h", "emu_race.h", "emu_atomic.h")]
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_SYNCHRONIZING = re.compile(r"\b(__syncthreads|__syncwarp|__shfl(_up|_down|_xor)?_sync|__ballot_sync|__any_sync"
                            r"|__all_sync)\b")
_ALIGN = r"(?:__align__\s*\(\s*\d+\s*\)\s*)?"
_TYPE = r"((?:(?:unsigned|signed|const|long|short)\s+)*\w+)"
_DYNAMIC_DECLARATION = re.compile(rf"extern\s+__shared__\s+{_ALIGN}{_TYPE}\s+{_ALIGN}(\w+)\s*\[\s*\]\s*;")
_SHARED = re.compile(r"\b__shared__\b")
_STATIC_DECLARATION = re.compile(rf"(?<!\w)__shared__\s+({_ALIGN}){_TYPE}\s+({_ALIGN})(\w+)\s*((?:\[[^\[\];]*\]\s*)*);")
# Arrays a kernel declares (__shared__, local) get the compiler's bounds checks, trapping (emu_guard.h);
# each check keeps a trap of its own (no merging), so a trap's source line is its check's.
BOUNDS_CHECKS = ["-fsanitize=bounds", "-fsanitize-undefined-trap-on-error", "-fno-crossjumping",
                 "-fno-tree-tail-merge"]
# The race check (emu_race.h): GCC's ThreadSanitizer instrumentation, calling emu_race.h's functions in
# place of its runtime, which is left out of the link (-nodefaultlibs drops it; the C and C++ libraries
# it drops with it are named again, after the program). No OpenMP: the check keeps one record, for
# blocks that run one after another.
RACE_CHECK = ["-DEMU_RACECHECK", "-fsanitize=thread", "--param=tsan-instrument-func-entry-exit=0", "-nodefaultlibs"]
RACE_CHECK_LIBRARIES = ["-lstdc++", "-lm", "-lc", "-lgcc_s", "-lgcc"]


def program(src, racecheck=False):
    """(C++ text, compiler flags, libraries, what else the library depends on) for a kernels.Source;
    with racecheck, a library with emu_race.h's check. Raises ValueError for a file the emulator cannot
    run."""
    where = os.path.abspath(src.path)
    rewritten = _shared_rewritten(src.text)
    fibers = _synchronizes(src.expanded())
    launchers = "".join(f"\n{_launcher_source(n, p, fibers)}" for n, p in src.kernels.items())
    # A rewritten file goes in as text, its lines numbered as in the file (messages, debug information).
    kernel_file = f'#include "{where}"' if rewritten is None else f'#line 1 "{where}"\n{rewritten}\n'
    text = f'#include "{HEADER}"\n{kernel_file}\n{launchers}'
    flags = ["-O2", "-g", "-std=c++14", "-shared", "-fPIC", f"-I{INCLUDE}", f"-I{os.path.dirname(where)}"]
    flags += (RACE_CHECK if racecheck else ["-fopenmp"]) + BOUNDS_CHECKS
    libraries = RACE_CHECK_LIBRARIES if racecheck else []
    depends = [read(h) for h in HEADERS] + [src.text] + [read(p) for p in src.includes()
                                                          if os.path.exists(p)]
    return text, flags, libraries, depends


def without_checks(flags):
    """The flags for a compiler without OpenMP or the bounds checks: blocks one after the other, unchecked
    (None for a race check's flags: that check is not left out)."""
    if RACE_CHECK[0] in flags:
        return None
    return [f for f in flags if f != "-fopenmp" and f not in BOUNDS_CHECKS]


def _launcher_source(name, params, fibers):
    """C++ that runs kernel `name` for every block and thread of a grid, and returns the launch's first
    failure (NULL when none). With fibers, each block's threads run as emu_block.h's fibers (the kernel
    file synchronizes threads); else one after the other. With a guard mode, the arrays are checked
    for bounds (emu_guard.h); emu_bytes holds each array argument's size."""
    decl = ", ".join(f"{_c_type(p)}{'*' if p.pointer else ''} {p.name}" for p in params)
    call = ", ".join(p.name for p in params)
    arrays = [(i, p) for i, p in enumerate(params) if p.pointer]
    slots = max(len(arrays), 1)
    pointers = ", ".join(f"(void*){p.name}" for _, p in arrays) or "nullptr"
    names = ", ".join(f'"argument {i} ({p.name})"' for i, p in arrays) or "nullptr"
    written = ", ".join("0" if p.const else "1" for _, p in arrays) or "0"
    restage = "".join(f"\n    {p.name} = ({_c_type(p)}*)emu_pointers[{k}];"
                      for k, (_, p) in enumerate(arrays))
    if fibers:
        block = f"""auto emu_body = [&] {{ {name}({call}); }};
            emu_run_block(emu_reverse, emu_body);"""
    else:
        # For the race check, each thread's call goes through a pointer the compiler cannot see through:
        # it may not move one thread's loads and stores into another's (one store for all, say).
        block = f"""unsigned emu_threads = emu_bx * emu_by * emu_bz;
#ifdef EMU_RACECHECK
            auto* volatile emu_kernel = &{name};
#else
            auto* const emu_kernel = &{name};
#endif
            for (unsigned emu_i = 0; emu_i < emu_threads; ++emu_i) {{
                unsigned emu_t = emu_reverse ? emu_threads - 1 - emu_i : emu_i;
                threadIdx = emu_dim3{{emu_t % emu_bx, emu_t / emu_bx % emu_by, emu_t / emu_bx / emu_by}};
                emu_kernel({call});
            }}"""
    # Every local name starts with emu_, so that no kernel parameter can shadow it.
    return f"""
extern "C" const char* emu_{name}(int emu_reverse, int emu_guard_mode, const long long* emu_bytes,
                                  unsigned emu_shared, unsigned emu_gx, unsigned emu_gy, unsigned emu_gz,
                                  unsigned emu_bx, unsigned emu_by, unsigned emu_bz{", " + decl if decl else ""}) {{
    emu_launch_begin();
    void* emu_pointers[{slots}] = {{{pointers}}};
    static const char* const emu_names[{slots}] = {{{names}}};
    static const int emu_written[{slots}] = {{{written}}};
    char* emu_starts[{slots}];
    if (!emu_guard_begin(emu_guard_mode, {len(arrays)}, emu_pointers, emu_bytes, emu_written, emu_names,
                         emu_starts)) {{
        emu_guard_end();
        return "no memory for the guarded copies of its arrays";
    }}{restage}
    long long emu_blocks = (long long)emu_gx * emu_gy * emu_gz;
    #pragma omp parallel for schedule(static)
    for (long long emu_n = 0; emu_n < emu_blocks; ++emu_n) {{
        long long emu_b = emu_reverse ? emu_blocks - 1 - emu_n : emu_n;
        gridDim = emu_dim3{{emu_gx, emu_gy, emu_gz}};
        blockDim = emu_dim3{{emu_bx, emu_by, emu_bz}};
        blockIdx = emu_dim3{{(unsigned)(emu_b % emu_gx), (unsigned)(emu_b / emu_gx % emu_gy),
                             (unsigned)(emu_b / emu_gx / emu_gy)}};
        emu_begin_block();
        if (emu_shared && !emu_dynamic.begin(emu_shared))
            emu_fail("no memory for %u bytes of dynamic shared memory", emu_shared);
        sigjmp_buf emu_jump;                         // a fault in a guard page leaves the block here
        emu_escape = &emu_jump;
        if (sigsetjmp(emu_jump, 0) == 0 && !emu_failed.load()) {{
            {block}
        }}
        emu_escape = nullptr;
    }}
    emu_guard_end();
    return emu_launch_result();
}}
"""


def _synchronizes(text):
    """Whether a kernel file's threads wait for each other (barriers, warp operations): its blocks then
    run as fibers. Comments do not count."""
    return bool(_SYNCHRONIZING.search(_blank_comments(text)))


def _shared_rewritten(text):
    """The text with its shared memory declarations rewritten for emu_block.h where they stand, each
    line of code on the line it was (messages and debug information keep the file's line numbers);
    None when it declares none. Raises ValueError for a declaration the emulator cannot follow.

    `extern __shared__ T name[];` becomes a pointer to the block's dynamic shared memory. A static
    `__shared__ T name[N]...;` stays (static thread_local: one copy per block running at once) and is
    followed by a call that fills it with set bits (every float a NaN) when the block's first thread
    reaches it: CUDA leaves it undefined, and a CPU thread's copy would hold the previous block's values."""
    code = _blank_comments(text)
    edits = []                                  # (start, end, replacement)
    for m in _SHARED.finditer(code):
        at = _line(code, m.start())
        before = code[:m.start()]
        if before.count("{") <= before.count("}"):
            raise ValueError(f"line {at}: declare __shared__ variables inside the kernel (where the emulator "
                             f"can give each block its own)")
        if re.search(r"\bextern\s*$", before):
            extern = before.rstrip()[:-len("extern")]
            dynamic = _DYNAMIC_DECLARATION.match(code, len(extern))
            if not dynamic:
                raise ValueError(f"line {at}: write dynamic shared memory as `extern __shared__ T name[];` (T a "
                                 f"type of one word or more, no initializer)")
            kind, name = " ".join(dynamic.group(1).split()), dynamic.group(2)
            edits.append((dynamic.start(), dynamic.end(), f"{kind}* {name} = ({kind}*)emu_dynamic_shared();"))
            continue
        static = _STATIC_DECLARATION.match(code, m.start())
        if not static:
            raise ValueError(f"line {at}: write each __shared__ variable in a declaration of its own: "
                             f"`__shared__ T name[N];` (or `__shared__ T name;`)")
        # The alignment goes first: `alignas(16) static thread_local float s[4];` (C++ takes it nowhere else).
        align, kind, name, dims = static.group(1) + static.group(3), static.group(2), static.group(4), static.group(5)
        seen = f"emu_seen_{name}_{at}"
        edits.append((static.start(), static.end(), " ".join(
            align.split() + ["__shared__", " ".join(kind.split()), name + "".join(dims.split()) + ";",
                             f"static thread_local unsigned long long {seen} = ~0ull;",
                             f'emu_undefined_at_block_start({name}, {seen}, "{name}");'])))
    if not edits:
        return None
    out, last = [], 0
    for start, end, replacement in sorted(edits):
        out += [text[last:start], replacement, "\n" * text.count("\n", start, end)]
        last = end
    return "".join(out + [text[last:]])


def _blank_comments(text):
    """The text with every comment made spaces (newlines kept): what is code stays where it was."""
    return _COMMENTS.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def _line(text, position):
    return text.count("\n", 0, position) + 1


def _c_type(p):
    return {np.dtype(np.float32): "float", np.dtype(np.int32): "int", np.dtype(np.uint32): "unsigned int"}[p.dtype]
