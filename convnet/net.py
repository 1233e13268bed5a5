"""A net: the layer graph with its parameters on a backend's devices, run forward and backward.

    net = Net(load_graph("layers.cfg", "params.cfg", [(3, 32, 32), (1,)]), backend="numpy", seed=1)
    costs = net.forward([images, labels], train=True, step=0)   # {"logprob": [cost, err1, errk]}
    net.backward()                                              # fills every parameter's .grad
    net.activation("conv1"), net.gradient("conv1")              # what users inspect, as NumPy arrays

Arrays are (channels, rows, cols, images) or (features, images). Costs are sums over the batch; the
gradients are of that sum.
"""
import numpy as np

from .backends import get_backend
from .devices import make_devices, transfer
from .errors import BackendError
from .layer import Pass
from .random import mix_key, name_id
from .upload import Uploader


class Net:
    def __init__(self, graph, backend="numpy", gpus=None, dtype=np.float32, seed=0, restoring=False):
        self.graph = graph
        self.layers = graph.layers
        self.backend = get_backend(backend) if isinstance(backend, str) else backend
        self.dtype = np.dtype(dtype)
        if self.dtype not in [np.dtype(t) for t in self.backend.dtypes]:
            raise BackendError(f"the {self.backend.name} backend computes in "
                               f"{', '.join(np.dtype(t).name for t in self.backend.dtypes)}, not {self.dtype.name}")
        self.devices = make_devices(self.backend, graph.n_devices, gpus)
        self.seed = seed
        rng = np.random.default_rng(seed)
        for layer in self.layers:
            device = None if layer.device_index is None else self.devices[layer.device_index]
            layer.bind(self.backend, device)
            layer.seed = mix_key(seed, name_id(layer.name))
            layer.restoring = restoring        # restored from a checkpoint: no init functions
            layer.init_params(rng, self.dtype)
            for i, (source, j) in getattr(layer, "weight_sources", {}).items():
                layer.params[i].share(self.graph[source].params[j])
                if j in getattr(self.graph[source], "conns", {}):
                    layer.conns[i] = self.graph[source].conns[j]      # randSparse: the source's connections
            for p in layer.params:
                if p.source is None:
                    p.value = transfer(p.value, None, device)
                    p.inc = self._zeros_like(p.value, device)
        self.acts, self.grads, self._copies, self._joint = {}, {}, {}, {}
        self.ctx = Pass(train=False)
        self.uploader = Uploader(self.backend, self.devices) if self.backend.gpu_path else None
        self._pairs = self._joint_pairs()       # the graph is fixed: found once

    # ---- access ----------------------------------------------------------------------------

    def __getitem__(self, name):
        return self.graph[name]

    def parameters(self):
        """The learned arrays, each once: a shared matrix (weightSource) is its owner's."""
        return [p for layer in self.layers for p in layer.params if p.source is None]

    def shared_parameters(self):
        return [p for layer in self.layers for p in layer.params if p.source is not None]

    def activation(self, name):
        """A layer's output from the last forward pass, as a NumPy array."""
        return self.backend.to_host(self.acts[name], self.graph[name].device)

    def gradient(self, name):
        """The gradient of the cost with respect to a layer's output, from the last backward pass
        (a layer whose gradient the backward took jointly with its cost's: computed now)."""
        g = self.grads.get(name)
        if g is None and name in self._joint.values():
            cost = next(self.graph[c] for c, s in self._joint.items() if s == name)
            xs = [self._input(i, cost.device) for i in cost.inputs]
            with cost.device.activate(), np.errstate(divide="ignore"):
                g = cost.backward(xs, self.acts[cost.name], None, [False, True], self.ctx)[1]
        return None if g is None else self.backend.to_host(g, self.graph[name].device)

    def costs(self):
        """{cost layer: its value as a NumPy array}, from the last forward pass."""
        return {layer.name: self.activation(layer.name) for layer in self.graph.cost_layers}

    # ---- passes ----------------------------------------------------------------------------

    def forward(self, data, train=False, step=0, override=None, override_inputs=None, noise=True, read_costs=True,
                reuse=None):
        """Run every layer on a batch: data[i] is the provider's array i (dataIdx=i), on the host.
        override {name: array} replaces layers' outputs; override_inputs {(name, i): array} replaces
        what one layer reads as its input i, its other readers unaffected (the gradient checker);
        noise=False runs without training's deliberate noise (see layer.Pass). reuse {name: array}:
        outputs of an earlier pass of the same batch and step, taken as they are for the layers
        before the first one not in it (the gradient checker, whose change to a layer leaves every
        layer before it as it was). Returns costs() (a host read, which waits for the GPU), or None
        with read_costs=False (the trainer's steps)."""
        self.ctx = Pass(train=train, step=step, noise=noise)
        self.acts, self.grads, self._copies = {}, {}, {}
        if self.uploader is not None:
            self.uploader.new_pass()
        override = override or {}
        override_inputs = override_inputs or {}
        reusing = reuse is not None
        for layer in self.layers:
            reusing = reusing and layer.name in reuse
            if reusing:
                self.acts[layer.name] = reuse[layer.name]
            elif layer.name in override:
                out = override[layer.name]
                self.acts[layer.name] = out if layer.is_data else transfer(out, None, layer.device)
            elif layer.is_data:
                self.acts[layer.name] = np.ascontiguousarray(data[layer.conf.dataIdx], dtype=self.dtype)
            else:
                xs = [self._input(inp, layer.device) if (layer.name, i) not in override_inputs
                      else transfer(override_inputs[layer.name, i], None, layer.device)
                      for i, inp in enumerate(layer.inputs)]
                with layer.device.activate():
                    self.acts[layer.name] = layer.forward(xs, self.ctx)
        return self.costs() if read_costs else None

    def backward(self, data_grads=False, keep_input_grads=False, joint=True, release=False):
        """Gradients of the summed cost: every parameter's .grad, and self.grads for each layer's
        output that a parameter (or, with data_grads, the input images) depends on. With
        keep_input_grads, self.input_grads[(name, i)] keeps each layer's own contribution to the
        gradient of its input i, before the contributions of a shared input are summed.

        A softmax read only by a cost.logreg (or a cost.crossent) on its device, or a logistic neuron
        read only by a cost.crossent2, gets no gradient of its own: the two layers' gradient is taken in one step,
        the outputs minus the targets, as the 2012 code did (finite where an output rounds to 0 or 1;
        joint=False takes them one by one, for checks).

        release=True lets each output and its gradient go as soon as no backward still to come reads
        them (a training step's peak memory: the forward's outputs, not twice them); activation() and
        gradient() then answer for nothing of this pass. The CPU backends only, for now."""
        needs = self._needs_grad(data_grads)
        # On a GPU the outputs stay: the early frees there wait for a GPU to run on (issue 13).
        release = release and not self.backend.gpu_path
        last_reader = self._last_backward_reader() if release else {}
        self.grads, self.input_grads = {}, {}
        pairs = self._joint = self._pairs if joint else {}
        for layer in self.layers:
            for p in layer.params:
                p.grad = None
        for layer in reversed(self.layers):
            self._backward_layer(layer, needs, pairs, keep_input_grads)
            for name in last_reader.get(layer.name, ()):
                self._release(name)
        if release:
            for name in list(self.acts):
                self._release(name)
        self._gather_shared_gradients()

    def _backward_layer(self, layer, needs, pairs, keep_input_grads):
        if layer.is_data or not needs[layer.name] or layer.name in pairs.values():
            return
        if layer.name in pairs:
            self._joint_backward(layer, self.graph[pairs[layer.name]], needs, keep_input_grads)
            return
        dy = None if layer.is_cost else self.grads.get(layer.name)
        if dy is None and not layer.is_cost:
            return
        need = [needs[inp] for inp in layer.inputs]
        xs = [self._input(inp, layer.device) for inp in layer.inputs]
        with layer.device.activate():
            grads = layer.backward(xs, self.acts[layer.name], dy, need, self.ctx)
        for i, (inp, g, wanted) in enumerate(zip(layer.inputs, grads, need)):
            if g is not None and wanted:
                if keep_input_grads:
                    self.input_grads[layer.name, i] = self.backend.to_host(g, layer.device).copy()
                self._accumulate(inp, g, layer.device)

    def _last_backward_reader(self):
        """{layer: the outputs that no backward after its own reads}: an output is read by its
        producer's backward (y, and its gradient; a data layer has none) and by its readers' (their
        inputs); the backward runs in reverse order, so the earliest of these is the last to read it."""
        first = {}
        for layer in self.layers:
            for name in ((layer.name,) if not layer.is_data else ()) + tuple(layer.inputs):
                first.setdefault(name, layer.name)
        last = {}
        for name, reader in first.items():
            last.setdefault(reader, []).append(name)
        return last

    def _release(self, name):
        self.acts.pop(name, None)
        self.grads.pop(name, None)
        for key in [k for k in self._copies if k[0] == name]:
            del self._copies[key]

    def _joint_pairs(self):
        """{cost layer: the layer it reads whose gradient it takes with its own} (Layer.joins), where
        that layer has no other reader and both are on one device (the 2012 code's conditions,
        src/layer.cu SoftmaxLayer::bpropActs and NeuronLayer::bpropActs)."""
        readers = {}
        for layer in self.layers:
            for name in layer.inputs:
                readers.setdefault(name, []).append(layer)
        pairs = {}
        for layer in self.graph.cost_layers:
            producer = self.graph[layer.inputs[1]] if len(layer.inputs) > 1 else None
            if producer is None or not layer.joins(producer):
                continue
            if readers[producer.name] == [layer] and producer.device_index == layer.device_index:
                pairs[layer.name] = producer.name
        return pairs

    def _joint_backward(self, cost, producer, needs, keep_input_grads):
        source = producer.inputs[0]
        if not needs[source]:
            return
        labels = self._input(cost.inputs[0], cost.device)
        with cost.device.activate():
            dx = cost.joint_gradient(producer, labels, self.acts[producer.name])
            dx = dx.reshape(self._input(source, producer.device).shape)     # the producer's input's shape
        if keep_input_grads:          # the producer's row of check-grads checks the joint gradient
            self.input_grads[producer.name, 0] = self.backend.to_host(dx, producer.device).copy()
        self._accumulate(source, dx, producer.device)

    def _gather_shared_gradients(self):
        """A shared matrix's gradient is the sum of its users' (the 2012 code accumulated them in one
        buffer), from the users whose own base rate is not 0 (the 2012 code computed no gradient there)."""
        for p in self.shared_parameters():
            if p.grad is None or p.eps.base == 0:
                continue
            owner = p.source
            g = transfer(p.grad, p.layer.device, owner.layer.device)
            with owner.layer.device.activate():
                owner.grad = g if owner.grad is None else owner.grad + g
            p.grad = None

    # ---- internals -------------------------------------------------------------------------

    def _needs_grad(self, data_grads):
        """A layer's output needs a gradient when a parameter lies at or below it."""
        needs = {}
        for layer in self.layers:
            if layer.is_data:
                needs[layer.name] = data_grads and layer.conf.dataIdx == 0
            else:
                needs[layer.name] = bool(layer.params) or any(needs[i] for i in layer.inputs)
        return needs

    def _input(self, name, device):
        """Layer `name`'s output as an array on `device`, copied once per pass when it lives elsewhere."""
        producer = self.graph[name]
        src = None if producer.device_index is None else self.devices[producer.device_index]
        if src is device:
            return self.acts[name]
        key = (name, device.index)
        if key not in self._copies:
            if src is None and self.uploader is not None:      # the batch, uploaded once per physical device
                self._copies[key] = self.uploader.get(name, self.acts[name], device)
                return self._copies[key]
            copy = transfer(self.acts[name], src, device)
            if producer.quant_forward and src is not None and self.ctx.noise:
                copy = self._round_to_half(copy, device)
            self._copies[key] = copy
        return self._copies[key]

    def _round_to_half(self, x, device):
        """quantF/quantB=half: x rounded to the nearest float16 (ties to even), as numpy's astype."""
        if not self.backend.gpu_path:
            return x.astype(np.float16).astype(x.dtype)
        from .kernels import ELEMENTWISE, i32, kernels
        with device.activate():
            out = self.backend.empty(x.shape)
            kernels(self.backend, ELEMENTWISE).round_to_half.launch(x.size, x, out, i32(x.size))
        return out

    def _accumulate(self, name, g, device):
        """Add g (computed on device) to the gradient of layer name's output, on the producer's device
        and its stream: the sum reads arrays that stream (after the copy's wait) has written."""
        producer = self.graph[name]
        dst = None if producer.device_index is None else self.devices[producer.device_index]
        if dst is None:
            g = self.backend.to_host(g, device)
        elif dst is not device:
            g = transfer(g, device, dst)
            if producer.quant_backward and self.ctx.noise:
                g = self._round_to_half(g, dst)
        if name not in self.grads:
            self.grads[name] = g
        elif dst is None:
            self.grads[name] = self.grads[name] + g
        else:
            with dst.activate():
                # A new array: the first gradient may be a view that another layer still holds.
                self.grads[name] = self.grads[name] + g

    def _zeros_like(self, value, device):
        if device is None:
            return np.zeros_like(value)
        with device.activate():
            return self.backend.xp.zeros_like(value)
