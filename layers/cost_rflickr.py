"""cost.rflickr: a robust squared error, log(1 + (y - t)^2) (the 2012 code's RobustFlickrCost)."""
import numpy as np

from convnet.kernels import beside
from convnet.registry import register

from .target_cost import TargetCost


@register("cost.rflickr")
class RobustFlickrCost(TargetCost):
    """inputs=labels,outputs.  cost = coeff * sum log(1 + (y - t)^2),   dy = coeff * 2 (y - t) / (1 + (y - t)^2)

    t as for cost.crossent2: a target per class (the 2012 Flickr provider's tags) or class numbers
    standing for one-hot rows. Its value is [the cost without coeff].

    Params: coeff (default 1).
    """
    CU, PREFIX = beside(__file__, "cost_rflickr.cu"), "rflickr"

    @staticmethod
    def terms(y, t):
        return np.log1p((y - t) ** 2)

    @staticmethod
    def grad(y, t):
        return 2 * (y - t) / (1 + (y - t) ** 2)
