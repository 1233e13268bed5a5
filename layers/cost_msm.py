"""cost.msm: the multi-softmax cost, a softmax over sets of setSize classes (the 2012 code's
MultiSoftmaxCostLayer)."""
import numpy as np

from convnet.config import Key, number, positive_integer
from convnet.kernels import beside, f32, i32, kernels, row_sums
from convnet.layer import Layer
from convnet.registry import register

from .cost_logreg import correct_fractions

CU = beside(__file__, "cost_msm.cu")


def lattices(e, k):
    """Log elementary symmetric polynomials of the weights exp(e) (classes on axis 0): forward F[j, s] =
    log e_s(w_0 .. w_{j-1}) and backward B[j, s] = log e_s(w_j .. w_{K-1}), s = 0 .. k. The 2012 code's
    MultiSoftmaxCPU_T_logspace builds the same lattices."""
    K, N = e.shape
    F = np.full((K + 1, k + 1, N), -np.inf, dtype=e.dtype)
    B = np.full((K + 2, k + 1, N), -np.inf, dtype=e.dtype)
    F[:, 0], B[:, 0] = 0, 0
    with np.errstate(invalid="ignore"):
        for j in range(1, K + 1):
            F[j, 1:] = np.logaddexp(F[j - 1, 1:], F[j - 1, :-1] + e[j - 1])
        for j in range(K - 1, -1, -1):
            B[j, 1:] = np.logaddexp(B[j + 1, 1:], B[j + 1, :-1] + e[j])
    return F, B


def set_marginals(e, k):
    """(log Z, P): Z the sum over the sets S of k classes of exp(sum of e over S), P[i] = P(i in S)."""
    K = e.shape[0]
    F, B = lattices(e, k)
    log_z = F[K, k]
    if k == 0:
        return log_z, np.zeros_like(e)
    with np.errstate(invalid="ignore"):
        # sets holding i: i's weight times the (k-1)-sets of the others, split before and after i, for
        # every i at once: F[i, s] + B[i + 1, k - 1 - s] summed over s
        inner = np.logaddexp.reduce(np.stack([F[:K, s] + B[1:K + 1, k - 1 - s] for s in range(k)]), axis=0)
        return log_z, np.exp(e + inner - log_z)


@register("cost.msm")
class MultiSoftmaxCost(Layer):
    """inputs=labels,energies. The energies e (one per class) define a distribution over the sets S of
    setSize classes, P(S) proportional to exp(sum of e over S), and

        cost = -coeff * sum_n log P(label_n in S),   de_i = coeff * (P(i in S) - P(i in S | label in S))

    (MultiSoftmaxCostLayer with the lattices of src/multisoftmax.cpp). setSize=1 is the softmax's
    logistic regression. Its value is [the cost without coeff, top-1 errors, top-setSize errors], the
    errors ranked by the energies with ties counted as fractions (kMultiSoftmaxCost_engs): the training
    line's and the test's errors when the net has no cost.logreg or cost.crossent. threads
    set the 2012 code's CPU threads and is accepted and unused.

    Params: coeff (default 1), setSize (1 to classes - 1), threads (1 to 32).
    """
    n_inputs = 2
    is_cost = True
    keys = (
        Key("coeff", number, default=1.0, where="params", doc="the cost's weight (in the gradient; not in the value)"),
        Key("setSize", positive_integer, where="params", doc="the number of classes in a set"),
        Key("threads", positive_integer, default=1, where="params", doc="accepted and unused (the 2012 code's CPU threads)"),
    )

    def infer(self, shapes):
        if self.size(shapes[0]) != 1:
            raise self.cfg.error("inputs", f"the first input must be the labels (one value per image); "
                                           f"'{self.inputs[0]}' gives {self.size(shapes[0])}")
        self.classes = self.size(shapes[1])
        if not 1 <= self.conf.setSize <= self.classes - 1:
            raise self.cfg.error("setSize", f"must be in the range 1-{self.classes - 1}, got {self.conf.setSize}", "params")
        if self.conf.threads > 32:
            raise self.cfg.error("threads", f"must be in the range 1-32, got {self.conf.threads}", "params")
        return (3,)

    def _parts(self, xs):
        """(log P(label in S) per image, de without coeff)."""
        labels = xs[0].reshape(-1).astype(np.int64)
        e = xs[1].reshape(self.classes, -1)
        e = e - e.max(axis=0)
        k, cases = self.conf.setSize, np.arange(e.shape[1])
        log_z, p = set_marginals(e, k)
        given = e.copy()
        given[labels, cases] = -np.inf                    # the other k - 1 among the other classes
        log_z_given, p_given = set_marginals(given, k - 1)
        p_given[labels, cases] = 1
        return e[labels, cases] + log_z_given - log_z, p - p_given

    def forward_cpu(self, xs, ctx):
        log_p, _ = self._parts(xs)
        e, labels = xs[1].reshape(self.classes, -1), xs[0].reshape(-1)
        n = labels.size
        return np.array([-log_p.sum(), n - correct_fractions(e, labels, 1).sum(),
                         n - correct_fractions(e, labels, self.conf.setSize).sum()], dtype=e.dtype)

    def backward_cpu(self, xs, y, dy, need, ctx):
        return [None, self.conf.coeff * self._parts(xs)[1]]

    # ---- the GPU twin: cost_msm.cu, one thread per image over its lattices ------------------------

    def _run_gpu(self, xs, coeff):
        labels, e = xs[0], xs[1]
        K, N, k = self.classes, e.shape[-1], self.conf.setSize
        be = self.be
        lattice = [be.empty((N, K + 2, k + 1)) for _ in range(4)]
        per_image, grad = be.empty((3, N)), be.empty((K, N))
        kernels(be, CU).msm_image.launch(N, labels, e, *lattice, per_image, grad, i32(K), i32(N), i32(k), f32(coeff))
        return per_image, grad

    def forward_gpu(self, xs, ctx):
        per_image, _ = self._run_gpu(xs, self.conf.coeff)
        totals = self.be.empty((3, 1))
        row_sums(self.be, per_image, totals)
        return totals.reshape(3)

    def backward_gpu(self, xs, y, dy, need, ctx):
        return [None, self._run_gpu(xs, self.conf.coeff)[1]]
