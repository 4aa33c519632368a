"""minidl: a small deep-learning framework with hand-written backward passes."""

from minidl.activation import ReLU, Sigmoid, Tanh
from minidl.data import disk, one_hot, standardize
from minidl.init import calculate_gain, linear_default_, xavier_normal_, xavier_uniform_
from minidl.linear import Linear
from minidl.loss import CrossEntropyLoss, MSELoss
from minidl.module import Module, Sequential
from minidl.optim import SGD

__version__ = "0.1.0"

__all__ = [
    "SGD",
    "CrossEntropyLoss",
    "Linear",
    "MSELoss",
    "Module",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "calculate_gain",
    "disk",
    "linear_default_",
    "one_hot",
    "standardize",
    "xavier_normal_",
    "xavier_uniform_",
]
