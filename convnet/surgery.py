"""--conv-to-local and --unshare-weights: cuda-convnet's two changes to a net as it is loaded
(convnet.py:44-61 of the 2012 code), made to a trained net to go on training it in another form, or
to a new one.

- A conv layer made local (LocalLayerParser.conv_to_local, layer.py:916) keeps its geometry and has
  at every output position its own copy of the conv's filters, to be trained apart from there; shared
  biases become one per filter and position. Its momentum starts at zero. The layers that share
  weights with it (weightSource, either way) are made local with it, and go on sharing. Its conv-only
  keys go from the config (sharedBiases, partialSum; wcNormMax and wcNormMin, which a converted layer
  of the 2012 code, a LocalUnsharedLayer, did not apply).
- An unshared matrix (WeightLayerParser.unshare_weights, layer.py:747) is its own copy of the matrix
  it read by weightSource, momentum from zero, and is updated by its own gradient from then on.
- Either way a changed matrix's gradients summed toward a --wupdate-freq update start from zero: a
  conv's sum over its positions, or a shared matrix's over its sharers, cannot be split again.

The change is written into the net's config text (type=local, the weightSource entry gone) with a
comment, so the checkpoints of the changed net describe it, and resume it as any run.
"""
import re

import numpy as np

from .config_edit import edit_section
from .devices import transfer
from .errors import OptionError
from .session import build_net
from .weights import WeightLayerMixin

CONV_ONLY = {"layers": ("sharedBiases", "partialSum"), "params": ("wcNormMax", "wcNormMin", "wcNorm")}
_MATRIX = re.compile(r"^([^\[\]]+?)(?:\[(\d+)\])?$")


class Changes:
    """What --conv-to-local (layer names) and --unshare-weights ((layer name, matrix or None for every
    shared one)) ask for."""

    def __init__(self, conv_to_local=None, unshare_weights=None):
        self.to_local = _names(conv_to_local, "--conv-to-local")
        self.unshare = []
        for item in _names(unshare_weights, "--unshare-weights"):
            m = _MATRIX.match(item)
            if not m:
                raise OptionError(f"--unshare-weights {item!r}: write a layer, or layer[i] for its matrix of input i")
            self.unshare.append((m.group(1), None if m.group(2) is None else int(m.group(2))))

    def __bool__(self):
        return bool(self.to_local or self.unshare)


def _names(text, option):
    if text is None:
        return []
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise OptionError(f"{option} {text!r}: an empty name; give layer names separated by commas")
    return list(dict.fromkeys(names))


def changed_net(data, configs, options, checkpoint, changes):
    """(net, configs, said): the net of configs (restored from checkpoint, or new) with the changes
    made, the config texts that describe it, and the lines that say what changed (for notes once the
    run has its folder)."""
    original = build_net(data, *configs, options, restoring=checkpoint is not None)
    if checkpoint is not None:
        checkpoint.restore(original)
    graph, file = original.graph, configs[0]
    to_local = _to_convert(graph, changes.to_local, file)
    unshared = _to_unshare(graph, changes.unshare, file)
    configs, unapplied = _edited(configs, graph, to_local, unshared)
    net = build_net(data, *configs, options, restoring=True)
    _copy(original, net, to_local, unshared)
    said = []
    for name in to_local:
        g = net[name].geo[0]
        said.append(f"{name}: made local (--conv-to-local), {g.oy}x{g.ox} positions, each starting from the "
                    f"conv's filters; its momentum starts at zero")
        if name not in changes.to_local:
            sharing = sorted(n for n in _sharing(graph)[name] if n != name)
            said.append(f"{name} is made local too: it shares weights with {', '.join(sharing)} (weightSource)")
    said += unapplied
    for name, i in unshared:
        source, j = graph[name].weight_sources[i]
        said.append(f"{name}[{i}]: its own copy of {source}[{j}] now (--unshare-weights), its momentum from zero")
    return net, configs, said


def changed_configs(data, configs, options, changes):
    """(configs, notes): the config texts with the changes written in, for a net whose arrays come from
    elsewhere: `convnet import` of a run the 2012 code had changed, whose checkpoint holds the changed
    layers' arrays already."""
    graph = build_net(data, *configs, options, restoring=True).graph
    return _edited(configs, graph, _to_convert(graph, changes.to_local, configs[0]),
                   _to_unshare(graph, changes.unshare, configs[0]))


def _sharing(graph):
    """Each weight layer's neighbours by weightSource, in either direction."""
    links = {layer.name: {layer.name} for layer in graph.layers}
    for layer in graph.layers:
        for source, _ in getattr(layer, "weight_sources", {}).values():
            links[layer.name].add(source)
            links[source].add(layer.name)
    return links


def _to_convert(graph, names, file):
    by_name = {layer.name: layer for layer in graph.layers}
    for name in names:
        if name not in by_name:
            raise OptionError(f"--conv-to-local {name}: no layer of that name in {file}")
        if by_name[name].type != "conv":
            what = "local already" if by_name[name].type == "local" else f"a {by_name[name].type} layer"
            raise OptionError(f"--conv-to-local {name}: [{name}] is {what}; only conv layers are made local")
    links, found, todo = _sharing(graph), set(), list(names)
    while todo:            # every layer that shares weights with one made local is made local with it
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(links[name])
    return [layer.name for layer in graph.layers if layer.name in found]


def _to_unshare(graph, items, file):
    by_name = {layer.name: layer for layer in graph.layers}
    matrices = []
    for name, i in items:
        layer = by_name.get(name)
        if layer is None:
            raise OptionError(f"--unshare-weights {name}: no layer of that name in {file}")
        if not isinstance(layer, WeightLayerMixin):
            raise OptionError(f"--unshare-weights {name}: [{name}] is a {layer.type} layer, with no weights")
        sources = getattr(layer, "weight_sources", {})
        if i is not None and i >= len(layer.inputs):
            raise OptionError(f"--unshare-weights {name}[{i}]: [{name}] has {len(layer.inputs)} weight "
                              f"matrices (0 to {len(layer.inputs) - 1})")
        if i is not None and i not in sources:
            raise OptionError(f"--unshare-weights {name}[{i}]: that matrix is [{name}]'s own already "
                              f"(no weightSource for input {i})")
        if not sources:
            raise OptionError(f"--unshare-weights {name}: [{name}] has no weightSource: its weights are its own already")
        matrices += [(name, j) for j in ([i] if i is not None else sorted(sources)) if (name, j) not in matrices]
    return matrices


def _edited(configs, graph, to_local, unshared):
    """(configs, notes): the texts with the changes written in, and what a changed layer no longer applies."""
    layers_file, layers_text, params_file, params_text = configs
    said = []
    for name in to_local:
        layers_text = edit_section(layers_file, layers_text, name,
                                   {"type": "local", **{k: None for k in CONV_ONLY["layers"]}},
                                   comment="type=conv until --conv-to-local made it local")
        conf = graph[name].conf
        if any(conf.wcNormMax):
            said.append(f"{name}: wcNormMax and wcNormMin constrain conv filters; as a local layer it goes "
                        f"without them, as in the 2012 code")
        if graph[name].cfg.params is not None and any(k in graph[name].cfg.params for k in CONV_ONLY["params"]):
            params_text = edit_section(params_file, params_text, name, {k: None for k in CONV_ONLY["params"]},
                                       comment="wcNormMax and wcNormMin removed by --conv-to-local")
    for name in dict.fromkeys(n for n, _ in unshared):
        entries = list(graph[name].conf.weightSource)
        for n, i in unshared:
            if n == name:
                entries[i] = ""
        inputs = ", ".join(str(i) for n, i in unshared if n == name)
        layers_text = edit_section(layers_file, layers_text, name,
                                   {"weightSource": ",".join(entries) if any(entries) else None},
                                   comment=f"weightSource of input {inputs} removed by --unshare-weights")
    return (layers_file, layers_text, params_file, params_text), said


def _copy(original, net, to_local, unshared):
    """Every learned array of original into net: as it is, or made per position (to_local), or
    copied from the matrix it shared (unshared)."""
    host = lambda p: original.backend.to_host(p.value, p.layer.device)
    for layer in net.layers:
        before = original[layer.name]
        for i, p in enumerate(layer.params):
            if p.source is not None:            # shared: its owner's arrays are set
                continue
            q = before.params[i]
            device = p.layer.device
            put = lambda a: transfer(np.ascontiguousarray(a, dtype=net.dtype), None, device)
            if layer.name in to_local and (p.name.startswith("weights") or host(q).ndim == 1):
                value = host(q)
                value = value[:, None, None] if value.ndim == 1 else value[None, None]
                p.value, p.inc = put(np.broadcast_to(value, p.value.shape)), put(np.zeros(p.value.shape))
            elif (layer.name, i) in unshared:
                p.value, p.inc = put(host(q)), put(np.zeros(p.value.shape))
            else:
                p.value = put(host(q))
                p.inc = put(original.backend.to_host(q.inc, q.layer.device))
                p.averages = None if q.averages is None else tuple(
                    put(original.backend.to_host(a, q.layer.device)) for a in q.averages)
                p.grad_sum = None if q.grad_sum is None else put(original.backend.to_host(q.grad_sum, q.layer.device))
        conns = getattr(before, "conns", {})       # randSparse's: an unshared matrix takes those it read
        owned = {f"conns/{i}": conns[i] for i in conns if i not in getattr(layer, "weight_sources", {})}
        if owned:
            layer.load_state_arrays(owned)
