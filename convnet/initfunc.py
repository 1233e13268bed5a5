"""initWFunc, initBFunc and initCFunc: a layer's starting weights, biases or random-sparse connections
from a Python function, as cuda-convnet called them (layer.py, WeightLayerParser.call_init_func).

    initWFunc=mymodule.makew(0.02,conv1)

imports mymodule (from the folder of the layer definition file first, then from Python's path) and
calls, exactly as the 2012 code did,

    makew(layer name, input index, (rows, cols), params=['0.02', 'conv1'])       initWFunc
    makeb(layer name, (rows, cols), params=[...])                                 initBFunc
    makec(layer name, input index, (groups, channels, filterChannels), params=[...])   initCFunc

with the shapes of the 2012 code's matrices (each layer converts them to its own layout). The
result is checked: a float32 numpy array of that shape, finite (initCFunc: a list of channel
numbers). One built-in needs no code: `convnet.from_checkpoint(PATH[,LAYER[,INDEX]])` takes the
array from a convnet checkpoint, by default the same layer's same input (the use of the 2012 code's
initw.py: start one net from another trained one).
"""
import importlib
import os
import re
import sys

import numpy as np


_CALL = re.compile(r"^([^.]+)\.([^()]+?)\s*(?:\(([^,]+(?:,[^,]+)*)\))?$")
BUILTIN = "convnet"


class InitFunc:
    """A parsed `module.func(args)` of a layer's key, with where it was written (for errors)."""

    def __init__(self, layer, key, text):
        self.layer, self.key, self.text = layer, key, text.strip()
        m = _CALL.match(self.text)
        if not m:
            raise layer.cfg.error(key, f"must have the form moduleName.functionName(param1,param2,...); got {self.text!r}")
        self.module, self.func = m.group(1).strip(), m.group(2).strip()
        self.params = [p.strip() for p in m.group(3).split(",")] if m.group(3) is not None else []
        if self.module == BUILTIN and self.func != "from_checkpoint":
            raise layer.cfg.error(key, f"convnet's built-in is convnet.from_checkpoint(path[,layer[,index]]), "
                                       f"not convnet.{self.func}")

    def error(self, message):
        return self.layer.cfg.error(self.key, f"{self.text}: {message}")

    def call(self, *args):
        """The function's result for args (after the layer name), as the 2012 code passed them."""
        if self.module == BUILTIN:
            return self._from_checkpoint(*args)
        function = self._function()
        try:
            return function(self.layer.cfg.name, *args, params=list(self.params))
        except Exception as e:           # the user's code: any failure is one line naming it
            raise self.error(f"raised {type(e).__name__}: {e}") from None

    def _function(self):
        folder = os.path.dirname(os.path.abspath(self.layer.cfg.definition.file))
        sys.path.insert(0, folder)
        try:
            module = importlib.import_module(self.module)
        except Exception as e:
            raise self.error(f"cannot import {self.module} (looked in {folder} and Python's path): "
                             f"{type(e).__name__}: {e}") from None
        finally:
            sys.path.remove(folder)
        function = getattr(module, self.func, None)
        if not callable(function):
            raise self.error(f"module {self.module} has no function {self.func}")
        return function

    def _from_checkpoint(self, *args):
        from .checkpoint import Checkpoint
        from .errors import CheckpointError
        if not 1 <= len(self.params) <= 3:
            raise self.error("takes (path[,layer[,index]])")
        path = self.params[0]
        source = self.params[1] if len(self.params) > 1 else self.layer.cfg.name
        kind = {"initWFunc": "weights", "initBFunc": "biases", "initCFunc": "conns"}[self.key]
        index = int(self.params[2]) if len(self.params) > 2 else (args[0] if kind != "biases" else None)
        try:
            checkpoint = Checkpoint(path)
        except CheckpointError as e:
            raise self.error(str(e)) from None
        name = f"{source}/{kind}" + ("" if index is None else f"/{index}")
        if name not in checkpoint.arrays:
            raise self.error(f"{path} has no {name}")
        return FromCheckpoint(checkpoint.arrays[name])


class FromCheckpoint:
    """An array in convnet's own layout (from a checkpoint), which needs no conversion."""

    def __init__(self, array):
        self.array = array


def checked_array(init, result, shape, what):
    """A float32 array of `shape` from an init function's result, or one line saying what is wrong."""
    if not isinstance(result, np.ndarray):
        raise init.error(f"must return a numpy.ndarray for the {what}; got {type(result).__name__}")
    if result.dtype != np.float32:
        raise init.error(f"must return single-precision floats (float32) for the {what}; got {result.dtype}")
    if tuple(result.shape) != tuple(shape):
        raise init.error(f"returned {what} of shape {tuple(result.shape)}; the layer needs {tuple(shape)}")
    if not np.all(np.isfinite(result)):
        raise init.error(f"returned {what} with NaN or infinite values")
    return result


def checked_conns(init, result, groups, channels, filter_channels):
    """initCFunc's list of channel numbers, checked as the 2012 code did (gen_rand_conns)."""
    over = groups * filter_channels // channels
    try:
        conns = [int(c) for c in result]
    except (TypeError, ValueError):
        raise init.error("must return a list of channel numbers") from None
    if len(conns) != over * channels:
        raise init.error(f"must return <groups> * <filterChannels> = {over * channels} channel numbers; got {len(conns)}")
    if any(not 0 <= c < channels for c in conns):
        raise init.error(f"must return channel numbers in 0-{channels - 1}")
    for o in range(over):
        if len(set(conns[o * channels:(o + 1) * channels])) != channels:
            raise init.error(f"every run of {channels} channel numbers must be a permutation of 0-{channels - 1}")
    return np.array(conns, dtype=np.int32)
