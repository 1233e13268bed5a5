"""One file per layer type, named after its config `type`, with its CUDA source beside it.

Each file registers its class with @register("type"); convnet.registry imports every module here, so
adding a layer type touches only its own file (plus its .cu) and its test.
"""
