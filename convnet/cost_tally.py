"""The training costs of the minibatches since the last test point, kept where they are computed.

Each step's cost layer outputs ([cost, errors...] for the batch) stay where they were computed until
the trainer reads them: on a GPU all at once, at a test point or before a save, so that nothing waits
for the GPU between test points; on the CPU after every step. Either way the host goes through them
step by step: the same float64 sums, and a divergence named at its minibatch.
"""
import numpy as np


class CostTally:
    def __init__(self, net):
        self.net = net
        self.kept, self.labels = {layer.name: [] for layer in net.graph.cost_layers}, []

    @property
    def steps(self):
        return len(self.labels)

    def add(self, where):
        """After a training step's forward: keep its costs (where: the minibatch, for messages)."""
        for name, values in self.kept.items():
            values.append(self.net.acts[name])
        self.labels.append(where)

    def read(self):
        """[(where, {cost layer: its values as float64 NumPy arrays})] in step order, and a fresh start."""
        host = {}
        for name, values in self.kept.items():
            device = self.net.graph[name].device
            with device.activate():
                stacked = self.net.backend.xp.stack(values)
            host[name] = np.asarray(self.net.backend.to_host(stacked, device), dtype=np.float64)
        steps = [(where, {name: host[name][i] for name in host}) for i, where in enumerate(self.labels)]
        self.kept, self.labels = {name: [] for name in self.kept}, []
        return steps
