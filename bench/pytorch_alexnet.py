"""The paper's net in PyTorch, timed like `convnet bench`, to run side by side with it.

    python bench/pytorch_alexnet.py --mini 128 [--device cuda|cpu] [--tf32] [--json]

The same shapes as configs/alexnet.cfg: the two columns become grouped convolutions (conv2, conv4,
conv5: groups=2; conv1 and conv3, which see both columns' inputs, are single convolutions of both
columns' filters), the same LRN (torch's LocalResponseNorm also weights each square by alpha/n; its
windows cross the two columns' boundary, which costs the same), max pooling 3/2, dropout 0.5, SGD with
momentum 0.9 and weight decay 0.0005, float32 (TF32 only with --tf32), cuDNN with benchmark mode.
PyTorch is not a dependency of convnet: install it yourself to run this.
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn


def alexnet():
    from collections import OrderedDict
    lrn = lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
    return nn.Sequential(OrderedDict([
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
    parser.add_argument("--mini", type=int, default=128)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--tf32", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = args.tf32
    torch.backends.cudnn.benchmark = True
    device = torch.device(args.device)
    model = alexnet().to(device)
    assert sum(p.numel() for p in model.parameters()) == 60_965_224      # the paper's 60,965,224
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=0.0005)
    x = torch.randn(args.mini, 3, 224, 224, device=device) * 50
    y = torch.randint(0, 1000, (args.mini,), device=device)
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
    per_layer = time_layers(model, step, cuda, max(3, args.repeat // 2))
    name = torch.cuda.get_device_name(device) if cuda else f"CPU, {torch.get_num_threads()} threads"
    result = {"device": name, "framework": f"PyTorch {torch.__version__}" + (" + cuDNN" if cuda else ""),
              "mini": args.mini, "tf32": args.tf32, "step_ms": median, "steps_ms": times,
              "images_per_s": args.mini / (median / 1000), "per_layer": per_layer}
    print(json.dumps(result, indent=2) if args.json else
          f"{name}, {result['framework']}, batch {args.mini}: step {median:.1f} ms, {result['images_per_s']:.0f} images/s")


if __name__ == "__main__":
    main()
