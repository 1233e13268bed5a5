"""cost.crossent2: the elementwise (multi-label) cross-entropy of logistic outputs against 0/1 targets
(the 2012 code's CrossEnt2CostLayer, for its Flickr tags)."""
from convnet.kernels import beside, f32, i32, kernels
from convnet.registry import register
from convnet.targets import targets_gpu, targets_numpy

from .cost_crossent import safelog
from .target_cost import TargetCost


@register("cost.crossent2")
class CrossEnt2Cost(TargetCost):
    """inputs=labels,outputs.  cost = -coeff * sum (t log y + (1 - t) log(1 - y))   (log: safelog)

    dy = coeff * ((1 - t) / (1 - y) - t / y), the exact gradient (the 2012 code's operator for outputs
    that are not logistic had + where - belongs). After a logistic neuron that nothing else reads, on
    its device, the net takes the two gradients in one step, coeff * (y - t) (joint_gradient), as the
    2012 code did (src/layer.cu, NeuronLayer::bpropActs): finite where y rounds to 0 or 1 in float32,
    where 1 / y or 1 / (1 - y) is not. t is a 0/1 target per
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

    def joins(self, producer):
        return producer.type == "neuron" and producer.kind == "logistic"

    def joint_gradient(self, producer, labels, y):
        """d/dx of the cost through y = logistic(x): coeff * (y - t)."""
        y = y.reshape(self.classes, -1)
        if not self.be.gpu_path:
            return self.conf.coeff * (y - targets_numpy(labels, self.classes, y.dtype))
        t = targets_gpu(self.be, labels, self.classes)
        dx = self.be.empty(y.shape)
        kernels(self.be, self.CU).crossent2_logistic_grad.launch(y.size, t, y, dx, f32(self.conf.coeff), i32(y.size))
        return dx
