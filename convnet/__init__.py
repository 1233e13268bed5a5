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
