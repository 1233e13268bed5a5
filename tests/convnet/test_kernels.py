"""The kernel machinery: every .cu compiles with nvcc for sm_80 and sm_90; every launch is checked."""
import glob
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from convnet import native, native_build
from convnet.backends import get_backend
from convnet.errors import BackendError
from convnet.kernels import ELEMENTWISE, INCLUDE, f32, i32, kernels, source
from tests.helpers import ROOT

CU_FILES = sorted(glob.glob(str(ROOT / "convnet/*.cu")) + glob.glob(str(ROOT / "layers/*.cu")))
# shared memory, barriers, warp operations; atomics
TEST_CU_FILES = [str(ROOT / "tests/convnet/block_kernels.cu"), str(ROOT / "tests/convnet/atomic_kernels.cu")]


def test_every_kernel_file_is_found_and_parsed():
    names = {os.path.basename(p) for p in CU_FILES}
    assert {"unfold.cu", "elementwise.cu", "solver.cu", "pool.cu", "cmrnorm.cu", "rnorm.cu", "cnorm.cu",
            "neuron.cu", "softmax.cu", "cost_logreg.cu", "dropout.cu", "eltmax.cu"} <= names
    for path in CU_FILES:
        assert source(path).kernels, path


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="no nvcc on this machine")
def test_every_cu_file_compiles_with_nvcc_for_sm80_and_sm90(tmp_path):
    def compile(job):
        path, arch = job
        out = tmp_path / f"{os.path.basename(path)}.{arch}.ptx"
        run = subprocess.run(["nvcc", "-ptx", f"-arch={arch}", f"-I{INCLUDE}", path, "-o", str(out)],
                             capture_output=True, text=True)
        return path, arch, run.returncode, run.stderr, out
    with ThreadPoolExecutor(4) as pool:
        jobs = [(p, a) for p in CU_FILES + TEST_CU_FILES for a in ("sm_80", "sm_90")]
        for path, arch, code, stderr, out in pool.map(compile, jobs):
            assert code == 0 and "warning" not in stderr, f"{path} {arch}: {stderr}"
            ptx = out.read_text()
            for name in source(path).kernels:
                assert f".entry {name}(" in ptx, f"{name} missing from {path} for {arch}"


def test_launches_are_checked():
    be = get_backend("emulated")
    k = kernels(be, ELEMENTWISE)
    x, y = be.from_host(np.ones(8, np.float32), None), be.empty(8)
    k.scale.launch(8, x, y, f32(3), i32(8))
    assert np.all(be.to_host(y) == 3)
    with pytest.raises(TypeError, match=r"argument 2 \(alpha\) must be a numpy.float32, got float"):
        k.scale.launch(8, x, y, 3.0, i32(8))
    with pytest.raises(TypeError, match=r"argument 0 \(x\) must be a float32\* array, got DeviceArray float64"):
        k.scale.launch(8, x.astype(np.float64), y, f32(3), i32(8))
    with pytest.raises(TypeError, match=r"argument 0 \(x\) is host memory \(a numpy array\)"):
        k.scale.launch(8, np.ones(8, np.float32), y, f32(3), i32(8))
    with pytest.raises(TypeError, match="not contiguous"):
        k.scale.launch(4, x[::2], y[:4], f32(3), i32(4))
    with pytest.raises(TypeError, match="takes 4 arguments"):
        k.scale.launch(8, x, y, f32(3))
    with pytest.raises(ValueError, match="int indices"):
        k.scale.launch(2 ** 31, x, y, f32(3), i32(8))


def test_grid_stride_covers_any_size():
    be = get_backend("emulated")
    for n in (1, 255, 256, 257, 100_000):
        out = be.zeros(n)
        kernels(be, ELEMENTWISE).fill.launch(n, out, f32(2), i32(n))
        assert np.all(be.to_host(out) == 2)


def test_cuda_backend_without_a_gpu_is_one_clear_error():
    from tests.conftest import HAS_GPU
    if HAS_GPU:
        pytest.skip("this machine has a GPU")
    with pytest.raises(BackendError) as e:
        get_backend("cuda")
    assert "\n" not in str(e.value)


def test_emulated_gemm():
    be = get_backend("emulated")
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32)
    out = np.ones((5, 4), np.float32)
    be.gemm(a, b, out, trans_b=True, alpha=2.0, beta=0.5)
    np.testing.assert_allclose(out, 2 * a @ b.T + 0.5, rtol=1e-6)


def test_int_indices_are_checked_on_every_array_and_on_the_stride(monkeypatch):
    """With the kernels' int limit made small: an array argument larger than it (unfold_backward's
    dcols is larger than the dx it launches over), and an n whose last grid-stride step passes it."""
    import convnet.kernels as module
    be = get_backend("emulated")
    k = kernels(be, ELEMENTWISE)
    monkeypatch.setattr(module, "INT_LIMIT", 300)
    big, small = be.zeros(400), be.zeros(10)
    with pytest.raises(ValueError, match=r"argument 0 \(x\) has 400 elements"):
        k.scale.launch(10, big, small, f32(1), i32(10))
    with pytest.raises(ValueError, match="a stride of 256 threads overflow"):
        k.scale.launch(60, be.zeros(60), be.zeros(60), f32(1), i32(60))
    k.scale.launch(40, be.zeros(40), be.zeros(40), f32(1), i32(40))


def test_nvrtc_compiles_the_source_with_its_includes_inlined():
    """CuPy's kernel cache is keyed by the source text: the text must hold common.cuh itself."""
    from convnet.kernels import UNFOLD, source
    text = source(UNFOLD).expanded()
    assert '#include "common.cuh"' not in text and "#define FOR_EACH" in text
    assert text.count("#define FOR_EACH") == 1 and "#pragma once" not in text


def test_a_kernel_file_named_by_a_relative_path(tmp_path, monkeypatch):
    """The emulated backend compiles in a folder of its own: the file is found from where it was named."""
    (tmp_path / "relative.cu").write_text('#include "common.cuh"\n'
                                          'extern "C" __global__ void twice(float* x, int n) { FOR_EACH(i, n) x[i] *= 2; }\n')
    monkeypatch.chdir(tmp_path)
    be = get_backend("emulated")
    x = be.from_host(np.arange(5, dtype=np.float32), None)
    kernels(be, "relative.cu").twice.launch(5, x, i32(5))
    np.testing.assert_array_equal(be.to_host(x), [0, 2, 4, 6, 8])


def test_a_kernel_cache_that_cannot_be_written_is_one_line(tmp_path, monkeypatch):
    """CONVNET_CACHE under a file: both backends that compile on the CPU name the folder and the cause."""
    (tmp_path / "a-file").write_text("")
    cache = tmp_path / "a-file" / "cache"
    monkeypatch.setenv("CONVNET_CACHE", str(cache))
    (tmp_path / "uncached.cu").write_text('extern "C" __global__ void one(float* x) { x[threadIdx.x] = 1.0f; }\n')
    with pytest.raises(BackendError, match=rf"^the emulated backend could not compile {tmp_path}/uncached.cu: the "
                                           rf"kernel cache {cache} cannot be written \(not a directory\): set "
                                           rf"CONVNET_CACHE to a folder that can$"):
        kernels(get_backend("emulated"), str(tmp_path / "uncached.cu"))
    native.reset()
    try:
        lib, why = native.library("pool_direct.cpp")
        assert lib is None and why.endswith(f"could not build pool_direct.cpp: the kernel cache {cache} cannot be "
                                            f"written (not a directory): set CONVNET_CACHE to a folder that can")
    finally:
        native.reset()


def test_a_compiler_that_cannot_be_run_is_one_line(tmp_path, monkeypatch):
    compiler = tmp_path / "not-executable-c++"
    compiler.write_text("#!/bin/sh\n")
    monkeypatch.setenv("CONVNET_CACHE", str(tmp_path / "cache"))
    be = get_backend("emulated")
    monkeypatch.setattr(be, "compiler", str(compiler))         # the backend reads CXX when it is made
    (tmp_path / "uncached.cu").write_text('extern "C" __global__ void one(float* x) { x[threadIdx.x] = 1.0f; }\n')
    with pytest.raises(BackendError, match=re.escape(f"could not compile {tmp_path}/uncached.cu: {compiler}: "
                                                     f"permission denied")):
        kernels(be, str(tmp_path / "uncached.cu"))


def test_a_compiler_without_openmp_builds_the_kernels_unchecked(tmp_path, monkeypatch):
    """A compiler that rejects -fopenmp (Apple's clang) or the bounds checks: the emulated backend
    builds again without them, and a kernel with barriers between its threads still computes its sums
    (its blocks one after the other). The race check, which needs GCC's instrumentation, is off."""
    monkeypatch.setenv("CONVNET_EMULATED_RACECHECK", "off")
    gxx = native_build.compiler()
    if not gxx:
        pytest.skip("no C++ compiler")
    log = tmp_path / "calls.log"
    wrapper = tmp_path / "c++-without-openmp"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {log}\n'
                       'case "$*" in *-fopenmp*|*-fsanitize*) echo "clang: error: unsupported option" >&2; exit 1;; esac\n'
                       f'exec {shutil.which(gxx)} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("CONVNET_CACHE", str(tmp_path / "cache"))
    be = get_backend("emulated")
    monkeypatch.setattr(be, "compiler", str(wrapper))
    shutil.copy(ROOT / "tests/convnet/block_kernels.cu", tmp_path / "blocks_without_openmp.cu")
    x = np.arange(3 * 128, dtype=np.float32)
    sums = be.empty(3)
    kernels(be, str(tmp_path / "blocks_without_openmp.cu")).block_sums((3, 1, 1), (128, 1, 1), be.from_host(x, None),
                                                                       sums)
    np.testing.assert_array_equal(be.to_host(sums), x.reshape(3, 128).sum(axis=1))
    first, second = log.read_text().splitlines()
    assert "-fopenmp" in first and "-fopenmp" not in second and "-fsanitize" not in second and "-O" in second


def test_the_images_a_thread_takes_are_one_number_in_python_and_cuda():
    """unfold.cu and pool.cu take IMAGES_PER_THREAD from common.cuh; the launches size their grids by
    kernels.py's: two numbers that must agree, or images go unwritten."""
    from convnet.kernels import IMAGES_PER_THREAD, INCLUDE, image_lanes
    with open(os.path.join(INCLUDE, "common.cuh"), encoding="utf-8") as f:
        defined = re.search(r"#define IMAGES_PER_THREAD (\d+)", f.read())
    assert defined and int(defined.group(1)) == IMAGES_PER_THREAD
    assert [image_lanes(n) for n in (1, 8, 9, 128)] == [1, 1, 2, 16]


def test_softmax_launches_the_block_its_kernels_are_written_for():
    """softmax.cu's shared arrays have CLASS_ROWS rows, indexed by threadIdx.y: a block launched with
    more rows would write past them."""
    from convnet.layers import softmax
    with open(softmax.CU, encoding="utf-8") as f:
        defined = re.search(r"#define CLASS_ROWS (\d+)", f.read())
    assert defined and int(defined.group(1)) == softmax.CLASS_ROWS
