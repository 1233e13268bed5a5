"""Layer types by their config `type`. A layer file registers itself with @register("type");
nothing else keeps a list of the types: every module in the layers package is imported on first use.
"""
import importlib
import pkgutil

_TYPES = {}
_loaded = False


def register(type_name):
    def decorate(cls):
        if type_name in _TYPES:
            raise RuntimeError(f"layer type {type_name!r} registered twice")
        cls.type = type_name
        _TYPES[type_name] = cls
        return cls
    return decorate


def _load_layer_modules():
    global _loaded
    if not _loaded:
        _loaded = True
        package = importlib.import_module("convnet.layers")
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"convnet.layers.{module.name}")


def layer_class(type_name):
    """The class registered for a config type, or None."""
    _load_layer_modules()
    return _TYPES.get(type_name)


def layer_types():
    _load_layer_modules()
    return dict(sorted(_TYPES.items()))
