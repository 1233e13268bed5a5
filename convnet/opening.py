"""A checkpoint opened for use: its net on its data, with its learned arrays, fitted to this machine.
What test, features, inspect and show do first, and what `convnet.load` gives in Python.

Options given now replace the checkpoint's (another --data-path, --test-range, --backend); a
checkpoint trained on a GPU, opened where the cuda backend cannot run, is computed on numpy with a
note, and one whose data folder has moved says which option finds it.
"""
import os

from .errors import BackendError, CheckpointError, DataError, OptionError
from .notes import note


def open_checkpoint(path, given, need_train=False, unlabelled_ok=False):
    """(checkpoint, data, net, options): given holds the options set now, by name as train's.
    unlabelled_ok: the test range may be the unlabelled test images (session.Data)."""
    from .checkpoint import Checkpoint
    from .session import DEFAULTS, Data
    checkpoint = Checkpoint(path)
    options = {**DEFAULTS, **checkpoint.options, **given}
    fit_to_this_machine(path, options, given, resuming=False)
    data = Data(options, need_train=need_train, unlabelled_ok=unlabelled_ok)
    data.note_changed(checkpoint, options, resuming=False)
    try:
        net = restored_net(checkpoint, data, options)
    except CheckpointError as e:
        raise _input_size_changed(e, checkpoint, data, given) from None
    return checkpoint, data, net, options


# The options that size the net's input: given now with another value, they are the likely cause of
# learned arrays of another shape (an fc layer's weights follow the size of what it reads).
INPUT_SIZE = ("crop", "image_size", "data_provider", "data_path")


def _input_size_changed(error, checkpoint, data, given):
    changed = [k for k in INPUT_SIZE if k in given and given[k] != checkpoint.options.get(k)]
    if not changed or "the net needs" not in str(error):
        return error
    flags = ", ".join(f"--{k.replace('_', '-')} {given[k]}" if given[k] is not None else f"no --{k.replace('_', '-')}"
                      for k in changed)
    size = "x".join(map(str, data.augmentation.shape))
    return CheckpointError(f"{error}: with {flags} the net reads {size} inputs, which is not what it was trained "
                           f"on (leave {'it' if len(changed) == 1 else 'them'} out to use the checkpoint's own)")


def restored_net(checkpoint, data, options):
    """The checkpoint's net, for data, with its learned arrays."""
    from .session import build_net
    net = build_net(data, *checkpoint.configs, options, restoring=True)
    checkpoint.restore(net)
    return net


def fit_to_this_machine(path, options, given, resuming):
    """A checkpoint's own backend and data folder, unless options given now replace them, checked
    against this machine (another one may have trained it)."""
    if "backend" not in given:
        _backend_here(path, options, resuming)
    if "data_path" not in given:
        _data_still_there(path, options)


def _data_still_there(path, options):
    """The folder a checkpoint's data came from, moved or on another machine: say which option finds it."""
    folder = options.get("data_path")
    if folder and not os.path.isdir(folder):
        raise DataError(f"{folder}: no such folder: {path} was trained on the data there; give --data-path "
                        f"where it is now")


def _backend_here(path, options, resuming):
    """A checkpoint trained on a GPU, opened where none is (the cluster's run, looked at on a laptop):
    test, features, inspect and show compute the same function on numpy, with a note; a resumed run
    says how to go on on the CPU rather than switch to it in silence."""
    if options["backend"] != "cuda":
        return
    from .backends import get_backend
    try:
        get_backend("cuda")
    except BackendError as e:
        if resuming:
            raise BackendError(f"{path} was trained on cuda, and {e}; give --backend numpy to resume it on the "
                               f"CPU") from None
        note(f"{path} was trained on cuda, and {e}: numpy computes it here (--backend to choose)")
        options.update(backend="numpy", gpu=None, tf32=False)


def describe_checkpoint(path):
    """The graph of a checkpoint's net on its own data (for describe): no arrays restored."""
    from .checkpoint import Checkpoint
    from .graph import load_graph
    from .session import DEFAULTS, Data
    checkpoint = Checkpoint(path)
    options = {**DEFAULTS, **checkpoint.options}
    _data_still_there(path, options)
    data = Data(options, need_train=False)
    layers_file, layers_text, params_file, params_text = checkpoint.configs
    return load_graph(layers_file, params_file, [data.augmentation.shape, (1,)], layers_text, params_text,
                      data_info=data.provider.data_info())


def load(path, **options):
    """(net, data): the checkpoint's net, restored, and its data. options: those of `convnet test`
    by their Python names (backend="numpy", data_path=..., test_range="6", image_size=...)."""
    from .session import DEFAULTS
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise OptionError(f"convnet.load: no option {unknown[0]!r} (there are {', '.join(sorted(DEFAULTS))})")
    _, data, net, _ = open_checkpoint(os.fspath(path), options)
    return net, data
