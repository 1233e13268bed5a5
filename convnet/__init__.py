"""convnet: cuda-convnet, the program that trained AlexNet, re-created in Python on CuPy."""
import os as _os

__version__ = "0.1.0"

# In the source tree, convnet.layers and convnet.data live beside this folder (layers/, data/: setup.cfg
# maps them), which an install takes care of. Run from a checkout without installing it
# (PYTHONPATH=<checkout>, as bench/gpu.sh does on a machine where nothing can be installed), they are
# found here instead.
_checkout = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not _os.path.isdir(_os.path.join(__path__[0], "layers")) and \
        _os.path.isfile(_os.path.join(_checkout, "layers", "__init__.py")):
    __path__.append(_checkout)


def load(path, **options):
    """(net, data): a checkpoint's net, with its learned arrays, and the data it was trained on.

        net, data = convnet.load("runs/layers-20261125-010302/latest.h5")
        for batch in data.test_minibatches(128):      # [images, labels] as net.forward takes them
            costs = net.forward(batch)                 # {"logprob": [cost, top-1 errors, top-k errors]}
            net.backward()
            net.activation("conv1"), net.gradient("conv1"), net["conv1"].params[0].value

    options are those of `convnet test`, by their Python names (backend="numpy", data_path=...,
    test_range="6"): what is not given is the checkpoint's. A run's folder stands for its latest.h5."""
    from .checkpoint import latest_of
    from .opening import load as _load
    return _load(latest_of(str(path)), **options)
