"""What bench/gpu_run.py runs on a lent GPU, most important first: each step's name, group, cap in
seconds and command (bash, from the repository root; {work} is the folder for logs and results).

The order is the order of need. The GPU tests come first: they say whether the cuda backend computes
the right numbers at all. Then the figures the issue asks for (the paper's net against PyTorch +
cuDNN, FP32 before TF32), training on cuda against numpy, the paper's net for a few hundred steps
with its memory, the whole-net comparison with PyTorch in float64, the stream probes and the kernel
bandwidths, the trainer on the paper's net, and last the sanitizers, which are slow and only look
for what the emulator's checks may have missed.
"""
from dataclasses import dataclass, field

ALEXNET = "--layers configs/alexnet.cfg --params configs/alexnet-params.cfg"
QUICKSTART = "--layers configs/layers.cfg --params configs/params.cfg"
L145 = ("--layers tests/reference/alexnet-2012/imagenet/layers-145.cfg "
        "--params tests/reference/alexnet-2012/imagenet/layer-params-145.cfg")
BLOCK_TESTS = ("tests/convnet/test_emulated_blocks.py tests/convnet/test_emulated_atomics.py "
               "-k 'tree or transpose or warp or sized_at_launch or static_shared or atomics'")
PYTEST = "python3 -m pytest -p no:cacheprovider -m gpu"


@dataclass
class Step:
    name: str
    group: str
    cap: int                       # seconds: the step is stopped there, whatever is left of the budget
    command: str
    env: dict = field(default_factory=dict)


def steps(parallel=""):
    """The steps in the order they run. `parallel` is what pytest gets to spread the GPU tests over
    processes (pytest-xdist's "-n 8" where it is installed; the lent machine has 16 cores)."""
    train = ("python3 -m convnet train {net} --flip --epochs 1 --test-freq 20 --seed 0 --backend {backend} "
             "--save-path {{work}}/train-{backend}")
    bench = "python3 -m convnet bench " + ALEXNET + " --backend cuda --gpu 0 --mini 128 {flag} --json"
    pytorch = "python3 bench/pytorch_alexnet.py --mini 128 {flag} --json"
    sanitizer = "compute-sanitizer --tool {tool} --error-exitcode 9 " + PYTEST + " -q {tests}"
    layer_kernels = "-x tests/layers/test_gpu_parity.py -k 'conv or pool or cmrnorm or softmax'"
    return [
        Step("gpu-tests", "tests", 240, f"{PYTEST} -q -rs {parallel} tests"),
        Step("bench-convnet-fp32", "bench", 90, bench.format(flag="") + " > {work}/bench-convnet-fp32.json"),
        Step("bench-pytorch-fp32", "bench", 90, pytorch.format(flag="") + " > {work}/bench-pytorch-fp32.json"),
        Step("train-quickstart-cuda", "train", 90, train.format(net=QUICKSTART, backend="cuda")),
        Step("train-quickstart-numpy", "train", 90, train.format(net=QUICKSTART, backend="numpy")),
        Step("compare-quickstart", "train", 30,
             "python3 bench/compare_runs.py {work}/train-cuda/latest.h5 {work}/train-numpy/latest.h5"),
        Step("bench-convnet-tf32", "bench", 60, bench.format(flag="--tf32") + " > {work}/bench-convnet-tf32.json"),
        Step("bench-pytorch-tf32", "bench", 60, pytorch.format(flag="--tf32") + " > {work}/bench-pytorch-tf32.json"),
        Step("alexnet-300-steps", "alexnet", 120,
             bench.format(flag="--warmup 3 --repeat 300 --no-profile") + " > {work}/alexnet-300-steps.json"),
        Step("step-host", "bench", 60, "python3 bench/step_host.py --gpu 0 > {work}/step-host.txt"),
        Step("two-devices-sync", "tests", 90, f"{PYTEST} -q tests/convnet/test_gpu_net.py -k two_logical",
             env={"CONVNET_SYNC": "1"}),
        Step("parity-quickstart", "parity", 60,
             f"python3 bench/pytorch_parity.py --backend cuda {QUICKSTART} --input-size 32 --max 1e-5"),
        Step("parity-layers-145", "parity", 60,
             f"python3 bench/pytorch_parity.py --backend cuda {L145} --input-size 224 --max 1e-5"),
        Step("probe", "probe", 60, "python3 bench/gpu_probe.py --json > {work}/probe.json"),
        Step("kernel-bandwidth", "bandwidth", 60,
             "python3 bench/kernel_bandwidth.py --json > {work}/bench-kernels.json"),
        Step("alexnet-train", "alexnet", 150,
             "python3 -m convnet train " + ALEXNET + " --image-size 256 --crop 224 --gpu 0 --backend cuda "
             "--epochs 1 --train-range 1-5 --test-range 6 --save-path {work}/train-alexnet"),
        Step("memcheck-layers", "sanitize", 150, sanitizer.format(tool="memcheck", tests=layer_kernels)),
        Step("racecheck-blocks", "sanitize", 90, sanitizer.format(tool="racecheck", tests=BLOCK_TESTS)),
        Step("synccheck-blocks", "sanitize", 90, sanitizer.format(tool="synccheck", tests=BLOCK_TESTS)),
        Step("racecheck-layers", "sanitize", 150, sanitizer.format(tool="racecheck", tests=layer_kernels)),
    ]
