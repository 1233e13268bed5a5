"""cost.crossent2: the elementwise (multi-label) cross-entropy of logistic outputs against 0/1 targets
(the 2012 code's CrossEnt2CostLayer, for its Flickr tags)."""
from convnet.kernels import beside
from convnet.registry import register

from .cost_crossent import safelog
from .target_cost import TargetCost


@register("cost.crossent2")
class CrossEnt2Cost(TargetCost):
    """inputs=labels,outputs.  cost = -coeff * sum (t log y + (1 - t) log(1 - y))   (log: safelog)

    dy = coeff * ((1 - t) / (1 - y) - t / y), the exact gradient (the 2012 code's operator for outputs
    that are not logistic had + where - belongs; after a logistic neuron it folded the two into
    coeff * (y - t), which is what this gives through the logistic's backward). t is a 0/1 target per
    class (the 2012 Flickr provider's tags: a (classes,) data layer), or class numbers standing for
    one-hot rows. The outputs are meant to be probabilities (a logistic neuron). Its value is [the cost
    without coeff].

    Params: coeff (default 1).
    """
    CU, PREFIX = beside(__file__, "cost_crossent2.cu"), "crossent2"

    @staticmethod
    def terms(y, t):
        return -(t * safelog(y) + (1 - t) * safelog(1 - y))

    @staticmethod
    def grad(y, t):
        return (1 - t) / (1 - y) - t / y
