"""Data providers, registered by name, and what they share: augmentation and the background loader.

A provider is a set of numbered batches of images (uint8, channels x rows x cols x images, the
engine's layout) with labels, plus the training set's mean image and the principal components of
its RGB pixel colours. Providers: `default` (embedded, generated here), `cifar` (cuda-convnet's batch
files), `imagenet` (our HDF5 batches).
"""
from convnet.errors import DataError

_PROVIDERS = {}


def register_provider(name):
    def decorate(cls):
        cls.name = name
        _PROVIDERS[name] = cls
        return cls
    return decorate


def get_provider(name, path=None, **options):
    _load()
    if name not in _PROVIDERS:
        raise DataError(f"unknown data provider {name!r} (known: {', '.join(sorted(_PROVIDERS))})")
    return _PROVIDERS[name](path, **options)


def _load():
    from . import cifar, default, imagenet  # noqa: F401  (each module registers its provider)
