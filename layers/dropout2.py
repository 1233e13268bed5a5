"""dropout2: cuda-convnet2's dropout that scales at test time, the same function as hs."""
from convnet.registry import register

from .dropout import DropoutBase


@register("dropout2")
class Dropout2(DropoutBase):
    """Train: y = x * m; test: y = x * keep. Config keys: keep. Params: enable."""
    test_scale = "keep"
