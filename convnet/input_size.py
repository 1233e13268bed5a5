"""What to say when a net does not fit the image size given on the command line.

check-grads runs at 8x8 by default, a size that most CIFAR nets take and the paper's does not: its
conv1 alone needs 11x11. The shape error names the layer; the size the user can give instead is found
by loading the net at larger sizes (a few milliseconds each, weights not made).
"""
from contextlib import contextmanager

from .errors import ConfigError, ShapeError
from .graph import load_graph
from .notes import unsaid

LARGEST = 1024


def smallest_input_size(layers_file, params_file, channels, above, data_info=None):
    """The smallest SIZE over `above` at which the net takes SIZE x SIZE images, or None (no size up
    to LARGEST: the error is not the size's). The notes of each try (ignored sections) are dropped:
    the failed load has given them once."""
    def fits(size):
        try:
            load_graph(layers_file, params_file, [(channels, size, size), (1,)], data_info=data_info)
            return True
        except ConfigError:
            return False
    with unsaid():
        if above >= LARGEST or not fits(LARGEST):
            return None
        return next(size for size in range(above + 1, LARGEST + 1) if fits(size))


@contextmanager
def size_hint(layers_file, params_file, channels, size, data_info=None):
    """A ShapeError raised within, with the size to give where a larger one fits: '... (at --input-size 8;
    the smallest size this net takes is 36)'."""
    try:
        yield
    except ShapeError as error:
        smallest = smallest_input_size(layers_file, params_file, channels, size, data_info)
        if smallest is None:
            raise
        raise ShapeError(f"{error.message} (at --input-size {size}; the smallest size this net takes is {smallest})",
                         error.file, error.section, error.key) from None
