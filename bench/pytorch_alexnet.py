"""convnet's benchmark nets in PyTorch, with convnet's shapes exactly, timed like `convnet bench`, to
run side by side with it.

    python bench/pytorch_alexnet.py [--net alexnet|quickstart|18pct] --mini 128 [--device cuda|cpu]
                                    [--threads T] [--tf32] [--no-profile] [--json]

alexnet is configs/alexnet.cfg: the two columns become grouped convolutions (conv2, conv4, conv5:
groups=2; conv1 and conv3, which see both columns' inputs, are single convolutions of both columns'
filters); conv1 gives 55x55 as cuda-convnet does (1 + ceil((224 - 11) / 4): the last filter position
reads 3 columns of zeros past the edge, so the input gets 3 zero columns and rows on the right and
bottom; PyTorch's floor would give 54); each column's LRN sees only that column's 48 or 128 maps
(the maps reshaped to (2N, C/2, H, W) around torch's LocalResponseNorm, which weights each square by
alpha/n as cuda-convnet did); max pooling 3/2 with ceil rounding, cuda-convnet's window count; dropout
0.5. quickstart is configs/layers.cfg and 18pct cuda-convnet's layers-18pct.cfg (32x32 inputs; rnorm,
within-map, is minDiv + scale/size^2 * the window sum of squares, zeros past the edges; average pooling
divides by the in-bounds count). SGD with momentum 0.9 and weight decay 0.0005, a summed cross-entropy,
float32 (TF32 only with --tf32), cuDNN with benchmark mode. The JSON has the process's peak resident
memory (ru_maxrss), measured as `convnet bench` measures its own.
PyTorch is not a dependency of convnet: install it yourself to run this.
"""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

PARAMETERS = {"alexnet": 60_965_224, "quickstart": 42_794, "18pct": 89_578}      # as `convnet describe` counts
INPUT_SIZE = {"alexnet": 224, "quickstart": 32, "18pct": 32}


class ColumnLRN(nn.Module):
    """Cross-map LRN within each of `columns` groups of maps: windows do not cross a column's edge."""

    def __init__(self, columns, size, alpha, beta, k):
        super().__init__()
        self.columns, self.lrn = columns, nn.LocalResponseNorm(size, alpha=alpha, beta=beta, k=k)

    def forward(self, x):
        n, c, h, w = x.shape
        return self.lrn(x.reshape(n * self.columns, c // self.columns, h, w)).reshape(n, c, h, w)


class WithinMapNorm(nn.Module):
    """cuda-convnet's rnorm: x * (minDiv + scale/size^2 * sum over the size x size window of x^2)^-pow,
    the window centred ((size-1)/2 before), zeros past the edges."""

    def __init__(self, size, scale, power, min_div=1.0):
        super().__init__()
        self.size, self.scale, self.power, self.min_div = size, scale, power, min_div

    def forward(self, x):
        s = F.avg_pool2d(x * x, self.size, 1, self.size // 2, count_include_pad=True)
        return x * (self.min_div + self.scale * s) ** -self.power


def alexnet():
    from collections import OrderedDict
    lrn = lambda: ColumnLRN(2, 5, alpha=1e-4, beta=0.75, k=2.0)
    return nn.Sequential(OrderedDict([
        ("pad1", nn.ZeroPad2d((0, 3, 0, 3))),
        ("conv1", nn.Conv2d(3, 96, 11, stride=4)), ("relu1", nn.ReLU()), ("rnorm1", lrn()),
        ("pool1", nn.MaxPool2d(3, 2, ceil_mode=True)),
        ("conv2", nn.Conv2d(96, 256, 5, padding=2, groups=2)), ("relu2", nn.ReLU()), ("rnorm2", lrn()),
        ("pool2", nn.MaxPool2d(3, 2, ceil_mode=True)),
        ("conv3", nn.Conv2d(256, 384, 3, padding=1)), ("relu3", nn.ReLU()),
        ("conv4", nn.Conv2d(384, 384, 3, padding=1, groups=2)), ("relu4", nn.ReLU()),
        ("conv5", nn.Conv2d(384, 256, 3, padding=1, groups=2)), ("relu5", nn.ReLU()),
        ("pool5", nn.MaxPool2d(3, 2, ceil_mode=True)), ("flatten", nn.Flatten()),
        ("fc6", nn.Linear(256 * 6 * 6, 4096)), ("relu6", nn.ReLU()), ("drop6", nn.Dropout(0.5)),
        ("fc7", nn.Linear(4096, 4096)), ("relu7", nn.ReLU()), ("drop7", nn.Dropout(0.5)),
        ("fc8", nn.Linear(4096, 1000))]))


def quickstart():
    """configs/layers.cfg with configs/params.cfg's norm: cmrnorm size 5, scale 0.0001, pow 0.75, minDiv 1."""
    from collections import OrderedDict
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(3, 16, 5, padding=2)), ("relu1", nn.ReLU()),
        ("pool1", nn.MaxPool2d(3, 2, ceil_mode=True)),
        ("rnorm1", nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)),
        ("conv2", nn.Conv2d(16, 32, 5, padding=2)), ("relu2", nn.ReLU()),
        ("pool2", nn.AvgPool2d(3, 2, ceil_mode=True)),
        ("conv3", nn.Conv2d(32, 64, 3, padding=1)), ("relu3", nn.ReLU()),
        ("pool3", nn.AvgPool2d(3, 2, ceil_mode=True)), ("flatten", nn.Flatten()),
        ("fc10", nn.Linear(64 * 4 * 4, 10))]))


def layers_18pct():
    from collections import OrderedDict
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(3, 32, 5, padding=2)), ("relu1", nn.ReLU()),
        ("pool1", nn.MaxPool2d(3, 2, ceil_mode=True)), ("rnorm1", WithinMapNorm(3, 0.00005, 0.75)),
        ("conv2", nn.Conv2d(32, 32, 5, padding=2)), ("relu2", nn.ReLU()),
        ("pool2", nn.AvgPool2d(3, 2, ceil_mode=True)), ("rnorm2", WithinMapNorm(3, 0.00005, 0.75)),
        ("conv3", nn.Conv2d(32, 64, 5, padding=2)), ("relu3", nn.ReLU()),
        ("pool3", nn.AvgPool2d(3, 2, ceil_mode=True)), ("flatten", nn.Flatten()),
        ("fc10", nn.Linear(64 * 4 * 4, 10))]))


NETS = {"alexnet": alexnet, "quickstart": quickstart, "18pct": layers_18pct}


def time_layers(model, step, cuda, repeat):
    """{layer: {"forward_ms", "backward_ms"}}: each module's forward and backward, timed with CUDA events
    (the host clock on the CPU) around it through hooks, the median over `repeat` steps. conv1's
    backward (its weight gradient alone: nothing below it needs one) is not seen: with no input that
    needs a gradient, PyTorch fires its hooks before that work, so it reads about 0."""
    import warnings
    warnings.filterwarnings("ignore", message="Full backward hook is firing")
    times = {name: {"forward_ms": [], "backward_ms": []} for name, _ in model.named_children()}
    marks = {}

    def mark():
        if cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def elapsed(start, end):
        if cuda:
            end.synchronize()
            return start.elapsed_time(end)
        return (end - start) * 1000

    hooks = []
    for name, module in model.named_children():
        def start(key, name=name):
            def hook(*_):
                marks[name, key] = mark()
            return hook

        def stop(key, name=name):
            def hook(*_):
                times[name][key].append(elapsed(marks.pop((name, key)), mark()))
            return hook
        hooks += [module.register_forward_pre_hook(start("forward_ms")), module.register_forward_hook(stop("forward_ms")),
                  module.register_full_backward_pre_hook(start("backward_ms")),
                  module.register_full_backward_hook(stop("backward_ms"))]
    try:
        for _ in range(repeat):
            step()
    finally:
        for h in hooks:
            h.remove()
    return {name: {k: statistics.median(v) if v else 0.0 for k, v in t.items()} for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--net", choices=sorted(NETS), default="alexnet")
    parser.add_argument("--mini", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: PyTorch's)")
    parser.add_argument("--no-profile", action="store_true", help="skip the per-layer times")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--tf32", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cudnn.benchmark = True
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model = NETS[args.net]().to(device)
    assert sum(p.numel() for p in model.parameters()) == PARAMETERS[args.net], "not convnet's net"
    size, classes = INPUT_SIZE[args.net], model[-1].out_features
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=0.0005)
    x = torch.randn(args.mini, 3, size, size, device=device) * 50
    y = torch.randint(0, classes, (args.mini,), device=device)
    loss_fn = nn.CrossEntropyLoss(reduction="sum")

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()

    cuda = device.type == "cuda"
    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.repeat):
        if cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            step()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end))
        else:
            t = time.perf_counter()
            step()
            times.append((time.perf_counter() - t) * 1000)
    median = statistics.median(times)
    # Steps back to back, as a training loop issues them (no wait for the GPU between them): host clock.
    if cuda:
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(args.repeat):
        step()
    if cuda:
        torch.cuda.synchronize()
    back_to_back = (time.perf_counter() - t) * 1000 / args.repeat
    per_layer = {} if args.no_profile else time_layers(model, step, cuda, max(3, args.repeat // 2))
    name = torch.cuda.get_device_name(device) if cuda else f"CPU, {torch.get_num_threads()} threads"
    result = {"device": name, "framework": f"PyTorch {torch.__version__}" + (" + cuDNN" if cuda else ""),
              "net": args.net, "threads": torch.get_num_threads(), "mini": args.mini,
              "peak_memory_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "gpu_memory_mib": torch.cuda.max_memory_reserved(device) / 2 ** 20 if cuda else None,
              "tf32": args.tf32, "step_ms": median, "steps_ms": times,
              "images_per_s": args.mini / (median / 1000), "back_to_back_step_ms": back_to_back,
              "back_to_back_images_per_s": args.mini / (back_to_back / 1000), "per_layer": per_layer}
    print(json.dumps(result, indent=2) if args.json else
          f"{name}, {result['framework']}, {args.net}, batch {args.mini}: step {median:.1f} ms, "
          f"{result['images_per_s']:.0f} images/s, peak memory {result['peak_memory_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
