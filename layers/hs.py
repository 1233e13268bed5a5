"""hs: the paper's dropout, as the 2012 code named it (section 4.2)."""
from convnet.registry import register

from .dropout import DropoutBase


@register("hs")
class HiddenDropout(DropoutBase):
    """Train: y = x * m, each value kept with probability `keep`, the rest zeroed; test: y = x * keep,
    "a reasonable approximation to taking the geometric mean" of the dropped-out nets (section 4.2).
    With enable=false, y = x * keep in training too, as the 2012 code: the paper's runs enabled
    dropout after some epochs (the params files' notes), and the scale did not jump when they did.
    Config keys: keep. Params: enable."""
    test_scale = "keep"
    disabled_scale = "test"
