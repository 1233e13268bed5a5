"""Test helpers: one layer built from config text, and float64 central differences written for the tests."""
import textwrap
from pathlib import Path

import numpy as np
import pytest

from convnet import native
from convnet.backends import get_backend
from convnet.config import LayerConfig, Section
from convnet.devices import Device
from convnet.layer import Pass
from convnet.registry import layer_class

# The 2012 files, copied unmodified from ../shared/reference (test_reference_files.py checks it).
REFERENCE = Path(__file__).resolve().parent / "reference" / "alexnet-2012"
ROOT = Path(__file__).resolve().parents[1]


def compiled_or_skip(name, what):
    """native.library(name), for a test module of that compiled kernel: skipped where the numpy backend
    runs its NumPy code by design (no C++ compiler, or CONVNET_NATIVE=0), failed where a compiler is
    there and the build fails: a shipped file that does not compile would otherwise only skip its tests
    and leave every user on the NumPy code."""
    lib, why = native.library(name)
    if lib is None and "could not build" in why:
        pytest.fail(f"{name} does not build here: {why}", pytrace=False)
    if lib is None:
        pytest.skip(f"no compiled {what} here: {why}", allow_module_level=True)
    return lib


TRAIN = Pass(train=True, step=3)
TEST = Pass(train=False, step=3)


# the data and labels layers every test net starts with
DATA_LAYERS = """
[data]
type=data
dataIdx=0
[labels]
type=data
dataIdx=1
"""
# and the softmax and cost.logreg that end most of them, on a layer named fc
SOFTMAX_COST = """
[probs]
type=softmax
inputs=fc
[cost]
type=cost.logreg
inputs=labels,probs
"""


def make_layer(type_name, input_shapes, keys=None, params=None, inputs=None, backend="numpy",
               dtype=np.float64, seed=0, name="layer", data_info=None):
    """A layer of `type_name` with the given definition keys and params-file keys, set up for
    input_shapes (and the provider's data_info) and bound to one device of the backend."""
    items = {"type": type_name}
    if type_name != "data":
        items["inputs"] = ",".join(inputs or [f"in{i}" for i in range(len(input_shapes))])
    items.update({k.lower(): str(v) for k, v in (keys or {}).items()})
    params_section = Section("params.cfg", name, {k.lower(): str(v) for k, v in params.items()}) if params else None
    cfg = LayerConfig(name, Section("layers.cfg", name, items), params_section, "params.cfg")
    layer = layer_class(type_name)(name, cfg)
    cfg.check_all_read()
    layer.data_info = dict(data_info or {})
    layer.setup(input_shapes)
    be = get_backend(backend)
    layer.bind(be, Device(0, be, be.physical_devices()[0]))
    layer.init_params(np.random.default_rng(seed), dtype)
    return layer


WEIGHT_PARAMS = {"epsW": 0.01, "epsB": 0.02, "momW": 0.9, "momB": 0.9}


def numeric_grad(f, array, h=1e-6):
    """d f() / d array by central differences, every element, in float64."""
    grad = np.zeros(array.shape)
    flat, g = array.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        plus = f()
        flat[i] = old - h
        minus = f()
        flat[i] = old
        g[i] = (plus - minus) / (2 * h)
    return grad


def rel_error(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return np.linalg.norm(a - b) / scale if scale else 0.0


def check_layer_gradients(layer, xs, ctx=TRAIN, tol=1e-7):
    """The layer's backward against central differences of L = sum(R * y) for a random R: every
    input and every parameter, every element. Returns the worst relative error."""
    rng = np.random.default_rng(7)
    y = layer.forward(xs, ctx)
    R = rng.standard_normal(y.shape)

    def loss():   # a new Pass each time: nothing computed for an earlier pass may be reused
        return float(np.sum(R * layer.forward(xs, Pass(ctx.train, ctx.step, ctx.noise))))

    grads = layer.backward(xs, layer.forward(xs, ctx), R, [True] * len(xs), ctx)
    worst = 0.0
    for x, g in zip(xs, grads):
        err = rel_error(g, numeric_grad(loss, x))
        assert err < tol, f"input gradient of {layer.type}: relative error {err:.2e}"
        worst = max(worst, err)
    for p in layer.params:
        analytic = p.grad.copy()
        err = rel_error(analytic, numeric_grad(loss, p.value))
        assert err < tol, f"{p.name} gradient of {layer.type}: relative error {err:.2e}"
        worst = max(worst, err)
    return worst


def check_cost_gradients(layer, xs, ctx=TRAIN, tol=1e-7, inputs=None):
    """A cost layer's backward against central differences of coeff * its value (the value leaves
    coeff out, as the 2012 code reported it), for the inputs asked (default: every input whose
    gradient the layer gives). Returns the worst relative error."""
    def cost():
        return layer.conf.coeff * float(layer.forward(xs, Pass(ctx.train, ctx.step, ctx.noise))[0])

    grads = layer.backward(xs, layer.forward(xs, ctx), None, [True] * len(xs), ctx)
    worst = 0.0
    for i, (x, g) in enumerate(zip(xs, grads)):
        if inputs is not None and i not in inputs or g is None:
            continue
        err = rel_error(g, numeric_grad(cost, x))
        assert err < tol, f"input {i} gradient of {layer.type}: relative error {err:.2e}"
        worst = max(worst, err)
    return worst


def source_line(path, text):
    """The number of the first line of the file at path that holds `text`, comment lines left out (the
    emulated backend's messages name lines)."""
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if text in line and not line.lstrip().startswith("//"):
            return number
    raise AssertionError(f"{text!r} is in no line of {path}")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def gpu_twin(type_name, input_shapes, keys=None, params=None, backend="emulated", seed=0, data_info=None):
    """(NumPy layer, GPU-path layer) of one config, float32, with the same parameters, each value moved
    by its own random step of 0.1 to 0.3: biases start at one initB, under which an output that read
    another filter's or position's bias would read the right number."""
    cpu = make_layer(type_name, input_shapes, keys, params, backend="numpy", dtype=np.float32, seed=seed,
                     data_info=data_info)
    gpu = make_layer(type_name, input_shapes, keys, params, backend=backend, dtype=np.float32, seed=seed,
                     data_info=data_info)
    be, rng = gpu.be, np.random.default_rng([seed, 23])
    for p, q in zip(cpu.params, gpu.params):
        step = rng.uniform(0.1, 0.3, p.value.shape) * rng.choice([-1, 1], p.value.shape)
        p.value = (p.value + step).astype(np.float32)
        q.value = be.from_host(p.value, gpu.device)
    return cpu, gpu


# Float32 on both sides, summed in different orders (a GEMM over k terms rounds about sqrt(k) * 6e-8
# apart): 1e-5 of the norm leaves a wide margin for that and none for a wrong index.
PARITY = 1e-5


def check_parity(cpu, gpu, xs, ctx=TRAIN, need=None, tol=PARITY):
    """The GPU path's output and every gradient against the NumPy path's, relative error < tol."""
    be = gpu.be
    rng = np.random.default_rng(11)
    xs = [np.asarray(x, dtype=np.float32) for x in xs]
    gx = [be.from_host(x, gpu.device) for x in xs]
    y_cpu, y_gpu = cpu.forward(xs, ctx), gpu.forward(gx, ctx)
    assert y_gpu.shape == y_cpu.shape and y_gpu.dtype == np.float32
    errors = {"output": rel_error(be.to_host(y_gpu), y_cpu)}
    need = need or [True] * len(xs)
    dy = None if cpu.is_cost else rng.standard_normal(y_cpu.shape).astype(np.float32)
    g_cpu = cpu.backward(xs, y_cpu, dy, need, ctx)
    g_gpu = gpu.backward(gx, y_gpu, None if dy is None else be.from_host(dy, gpu.device), need, ctx)
    for i, (a, b) in enumerate(zip(g_cpu, g_gpu)):
        if a is not None:
            assert b is not None and b.shape == a.shape
            errors[f"input {i}"] = rel_error(be.to_host(b), a)
    for p, q in zip(cpu.params, gpu.params):
        errors[p.name] = rel_error(be.to_host(q.grad), p.grad)
    bad = {k: v for k, v in errors.items() if not v < tol}
    assert not bad, f"{cpu.type}: GPU path differs from NumPy: {bad}"
    return errors
