"""The layer graph from the two config files: layers in order, inputs resolved and checked, the
hidden `<name>_neuron` layers made, devices assigned and output shapes inferred.
"""
from .config import LayerConfig, Section, read_ini
from .errors import ConfigError, ShapeError
from .notes import note
from .layer import Layer
from .registry import layer_class, layer_types


class Graph:
    def __init__(self, layers, layers_file, params_file):
        self.layers = layers
        self.by_name = {layer.name: layer for layer in layers}
        self.layers_file, self.params_file = layers_file, params_file
        devices = [layer.device_index for layer in layers if layer.device_index is not None]
        self.n_devices = max(devices, default=0) + 1

    def __getitem__(self, name):
        return self.by_name[name]

    @property
    def cost_layers(self):
        return [layer for layer in self.layers if layer.is_cost]

    @property
    def data_layers(self):
        return [layer for layer in self.layers if layer.is_data]


def load_graph(layers_file, params_file, data_shapes, layers_text=None, params_text=None, data_info=None):
    """Read, check and shape a net. data_shapes[i] is the per-image shape of the data provider's
    array i (dataIdx=i): (3, 224, 224) for images, (1,) for labels. The texts, when given, are the
    files' contents (from a checkpoint); the names then only label messages. data_info: what some
    layers need from the data provider, as the 2012 parser took it from its provider ({"classes": the
    number of classes, "tree": the class tree of batches.meta, "root": its root}; treefc)."""
    definitions = read_ini(layers_file, layers_text)
    params = read_ini(params_file, params_text)
    if not definitions:
        raise ConfigError("defines no layers", file=layers_file)
    layers = [_make_layer(name, section, params.get(name), str(params_file))
              for name, section in definitions.items()]
    unused = [name for name in params if name not in definitions]
    if unused:  # the 2012 parser looked up the sections of its layers and never saw the others
        note(f"{params_file}: ignored, as the 2012 code did: section{'s' if len(unused) > 1 else ''} "
             f"{', '.join(f'[{n}]' for n in unused)}, for no layer of {layers_file}")
    _check_inputs(layers)
    _check_everything_feeds(layers)
    for layer in layers:
        layer.cfg.check_all_read()
    layers = _detach_neurons(layers)
    _assign_devices(layers)
    for layer in layers:
        layer.data_info = dict(data_info or {})
    _infer_shapes(layers, data_shapes)
    _resolve_weight_sources(layers)
    return Graph(layers, str(layers_file), str(params_file))


def _make_layer(name, section, params, params_file):
    cfg = LayerConfig(name, section, params, params_file)
    type_name = section.get("type")
    if type_name is None:
        swapped = f" ({params_file} has it: are --layers and --params swapped?)" if params and "type" in params else ""
        raise cfg.error("type", f"required key missing (every layer needs a type){swapped}", where="layers")
    cls = layer_class(type_name.strip())
    if cls is None:
        known = ", ".join(layer_types())
        raise cfg.error("type", f"unknown layer type {type_name.strip()!r} (known: {known})")
    return cls(name, cfg)


def _check_inputs(layers):
    position = {layer.name: i for i, layer in enumerate(layers)}
    by_name = {layer.name: layer for layer in layers}

    def depends_on(name, target, seen=()):
        return any(inp == target or (inp in by_name and inp not in seen
                                     and depends_on(inp, target, seen + (inp,)))
                   for inp in by_name[name].inputs)

    for i, layer in enumerate(layers):
        for inp in layer.inputs:
            if inp not in position:
                raise layer.cfg.error("inputs", f"no layer named '{inp}'", "layers")
            if inp == layer.name or depends_on(inp, layer.name):
                raise layer.cfg.error("inputs", f"'{inp}' makes a cycle: it depends on this layer", "layers")
            if position[inp] > i:
                lines = layer.cfg.definition.lines
                at = ", ".join(map(str, lines[:-1])) + f" and {lines[-1]}"
                twice = (f" ([{layer.name}] is given {len(lines)} times, at lines {at}: "
                         f"a section given again is merged into the first, in its place, as in the 2012 code)"
                         if len(lines) > 1 else "")
                raise layer.cfg.error("inputs", f"'{inp}' comes later in the file; a layer's inputs "
                                                f"must be defined before it{twice}", "layers")


def _check_everything_feeds(layers):
    used = {inp for layer in layers for inp in layer.inputs}
    for layer in layers:
        if not layer.is_cost and layer.name not in used:
            raise ConfigError(f"this {layer.type} layer feeds no other layer (only cost layers may end "
                              f"the net)", file=layer.cfg.definition.file, section=layer.name)
    if not any(layer.is_cost for layer in layers):
        raise ConfigError("the net has no cost layer (for example type=cost.logreg)",
                          file=layers[0].cfg.definition.file)


def _detach_neurons(layers):
    """`neuron=f` on a layer becomes a layer `<name>_neuron` of type neuron after it, as cuda-convnet
    made it; the layers that read `<name>` read `<name>_neuron` instead."""
    names = {layer.name for layer in layers}
    result = []
    for layer in layers:
        result.append(layer)
        if not layer.neuron:
            continue
        neuron_name = f"{layer.name}_neuron"
        suffix = 1
        while neuron_name in names:
            neuron_name, suffix = f"{layer.name}_neuron.{suffix}", suffix + 1
        names.add(neuron_name)
        items = {"type": "neuron", "inputs": layer.name, "neuron": layer.neuron}
        section = Section(layer.cfg.definition.file, layer.name, items)
        neuron = layer_class("neuron")(neuron_name, LayerConfig(layer.name, section))
        neuron.gpu = layer.gpu
        neuron.source = layer.name
        for other in layers:
            if other is not layer:
                other.inputs = [neuron_name if inp == layer.name else inp for inp in other.inputs]
        result.append(neuron)
    return result


def _assign_devices(layers):
    """gpu=N places a layer on logical device N; without it a layer sits with its first input.
    Data layers live on the host and are copied to each device that reads them."""
    device = {}
    for layer in layers:
        if layer.is_data:
            layer.device_index = None
        elif layer.gpu is not None:
            layer.device_index = layer.gpu
        else:
            first = device.get(layer.inputs[0])
            layer.device_index = 0 if first is None else first
        device[layer.name] = layer.device_index


def _resolve_weight_sources(layers):
    """weightSource=layer[i]: checked as the 2012 parser checked it (WeightLayerParser.parse): the
    source is this layer or an earlier one, of the same type, on the same device, with a matrix i of
    the same shape (and for this layer, an earlier input)."""
    from .weights import parse_source
    position = {layer.name: n for n, layer in enumerate(layers)}
    by_name = {layer.name: layer for layer in layers}
    for n, layer in enumerate(layers):
        sources = {}
        for i in range(len(getattr(getattr(layer, "conf", None), "weightSource", None) or [])):
            found = parse_source(layer, i)
            if found is None:
                continue
            name, j = found
            error = lambda message: layer.cfg.error("weightSource", message, "layers")
            if name not in by_name or position[name] > n:
                raise error(f"weight sharing source layer '{name}' does not exist (or comes later in the file)")
            source = by_name[name]
            if source.type != layer.type:
                raise error(f"weight sharing source layer '{name}' is of type {source.type}; should be {layer.type}")
            if source.device_index != layer.device_index:
                raise error(f"weight sharing source layer '{name}' runs on GPU {source.device_index}, this layer on "
                            f"GPU {layer.device_index}")
            count = len(source.inputs)
            if j >= count or (source is layer and j >= i):
                raise error(f"'{name}[{j}]' is not a weight matrix defined before input {i} "
                            f"('{name}' has {count})")
            if source is not layer and j in getattr(source, "weight_sources", {}):
                name, j = source.weight_sources[j]
            mine, theirs = layer.param_shapes()[i], by_name[name].param_shapes()[j]
            if tuple(mine) != tuple(theirs):
                raise error(f"'{name}[{j}]' has shape {tuple(theirs)}; input {i} needs {tuple(mine)}")
            if hasattr(layer, "check_weight_source"):
                layer.check_weight_source(i, by_name[name], j)
            sources[i] = (name, j)
        if sources:
            layer.weight_sources = sources


def _infer_shapes(layers, data_shapes):
    try:
        _infer(layers, data_shapes)
    except ConfigError as e:
        raise ShapeError(e.message, e.file, e.section, e.key) from None


def _infer(layers, data_shapes):
    shapes = {}
    by_name = {layer.name: layer for layer in layers}
    # data arrays no provider describes (data_shapes[i] is None: `describe` without one) start as
    # one value per image (class numbers) and take the size the first layer that needs another asks
    # for: the 2012 Flickr nets subtract a (tags,) label vector from their outputs (eltsum)
    flexible = {i for i, shape in enumerate(data_shapes) if shape is None}
    data_shapes = [(1,) if shape is None else shape for shape in data_shapes]
    unsettled = set()
    for layer in layers:
        layer.check_input_layers([by_name[inp] for inp in layer.inputs])
        if layer.is_data:
            shapes[layer.name] = layer.setup_data(data_shapes)
            if layer.conf.dataIdx in flexible:
                unsettled.add(layer.name)
            continue
        try:
            shapes[layer.name] = layer.setup([shapes[inp] for inp in layer.inputs])
        except ConfigError:
            fitted = _fit_unsettled(layer, shapes, unsettled, by_name)
            if fitted is None:
                raise
            shapes.update(fitted)
            shapes[layer.name] = layer.output_shape
        unsettled -= set(layer.inputs)


def _fit_unsettled(layer, shapes, unsettled, by_name):
    """Retry a layer whose unsettled data input had the wrong size with each size its other inputs
    have; the new {data layer: shape} that fits, or None."""
    loose = [inp for inp in layer.inputs if inp in unsettled]
    sizes = {Layer.size(shapes[inp]) for inp in layer.inputs if inp not in unsettled}
    for size in sorted(sizes):
        trial = {inp: (size,) for inp in loose}
        try:
            layer.setup([trial.get(inp, shapes[inp]) for inp in layer.inputs])
        except ConfigError:
            continue
        for inp in loose:
            by_name[inp].output_shape = trial[inp]
        return trial
    return None
