"""native_build.build with stand-in compilers (shell scripts that log their arguments): the fallback
flags are tried only when the first flags fail, and a failure is the compiler's first error line."""
import os
import stat

import pytest

from convnet.native_build import BuildError, build

PROGRAM = "int answer() { return 42; }\n"


def fake_compiler(tmp_path, body):
    """A 'compiler' that appends its arguments to calls.log, runs `body` (sh; $out is the -o file) and
    exits with body's status."""
    path = tmp_path / "fake-c++"
    path.write_text("#!/bin/sh\n"
                    f'echo "$*" >> "{tmp_path}/calls.log"\n'
                    'out=""; prev=""; for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done\n'
                    f"{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def calls(tmp_path):
    return (tmp_path / "calls.log").read_text().splitlines()


WITHOUT_OPENMP = ('case "$*" in *-fopenmp*) echo "c++: error: unsupported option \'-fopenmp\'" >&2; exit 1;; esac\n'
                  'echo library > "$out"')


def test_flags_the_compiler_rejects_are_built_again_with_the_fallback(tmp_path):
    compiler = fake_compiler(tmp_path, WITHOUT_OPENMP)
    path = str(tmp_path / "cache" / "lib.so")
    build(PROGRAM, compiler, ["-fopenmp", "-O2"], path, fallback_flags=["-O2"])
    assert open(path).read() == "library\n"
    first, second = calls(tmp_path)
    assert first.startswith("-fopenmp -O2 ") and second.startswith("-O2 ") and "-fopenmp" not in second


def test_flags_the_compiler_takes_are_built_once(tmp_path):
    compiler = fake_compiler(tmp_path, 'echo library > "$out"')
    path = str(tmp_path / "cache" / "lib.so")
    build(PROGRAM, compiler, ["-fopenmp", "-O2"], path, fallback_flags=["-O2"])
    assert open(path).read() == "library\n"
    (only,) = calls(tmp_path)
    assert only.startswith("-fopenmp -O2 ")


def test_without_a_fallback_the_first_failure_is_the_error(tmp_path):
    compiler = fake_compiler(tmp_path, WITHOUT_OPENMP)
    with pytest.raises(BuildError, match=r"^c\+\+: error: unsupported option '-fopenmp'$"):
        build(PROGRAM, compiler, ["-fopenmp"], str(tmp_path / "cache" / "lib.so"))
    assert len(calls(tmp_path)) == 1 and not os.path.exists(tmp_path / "cache" / "lib.so")


@pytest.mark.parametrize("stderr,message", [
    ("program.cpp: In function 'f':\\nprogram.cpp:3:5: warning: unused x\\nprogram.cpp:4:1: error: expected ';'\\n",
     "program.cpp:4:1: error: expected ';'"),
    ("\\n  ld: cannot find -lgomp\\nsecond line\\n", "ld: cannot find -lgomp"),
    ("", "exit status 3, no message"),
], ids=["the first error line", "no error line: the first line", "no output"])
def test_a_failed_build_is_its_first_error_line(tmp_path, stderr, message):
    """Both tries fail: the message comes from the fallback's output, the last the compiler gave."""
    compiler = fake_compiler(tmp_path, f'case "$*" in *-fopenmp*) echo "first try" >&2; exit 1;; esac\n'
                                       f'printf "{stderr}" >&2; exit 3')
    with pytest.raises(BuildError) as e:
        build(PROGRAM, compiler, ["-fopenmp"], str(tmp_path / "cache" / "lib.so"), fallback_flags=[])
    assert str(e.value) == message
    assert len(calls(tmp_path)) == 2 and os.listdir(tmp_path / "cache") == []


def test_libraries_go_after_the_program_in_both_tries(tmp_path):
    """A linker takes a library only for the symbols still missing when it reaches it: -l flags named
    before the program would be passed over."""
    compiler = fake_compiler(tmp_path, WITHOUT_OPENMP)
    build(PROGRAM, compiler, ["-fopenmp"], str(tmp_path / "cache" / "lib.so"), fallback_flags=[],
          libraries=["-lstdc++", "-lm"])
    for call in calls(tmp_path):
        words = call.split()
        program = next(i for i, w in enumerate(words) if w.endswith("program.cpp"))
        assert words[program + 1:program + 3] == ["-lstdc++", "-lm"] and words[program + 3] == "-o"
