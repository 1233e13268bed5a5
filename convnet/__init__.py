"""convnet: cuda-convnet, the program that trained AlexNet, re-created in Python on CuPy."""

__version__ = "0.1.0"
