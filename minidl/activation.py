"""Element-wise activations. Each caches what its derivative needs in forward."""

from __future__ import annotations

import torch
from torch import Tensor

from minidl.module import Module

# torch 2.13's CPU tanh kernel is slow on large tensors: from about 10^4 elements
# up, tanh(x) = 2 sigmoid(2x) - 1 computed in place takes about a third of its
# time, and below that it takes longer (2-core AMD EPYC; benchmarks/activation_speed.py
# measures both on the machine at hand). The two forms differ by at most 2e-7 in
# float32 and 4e-16 in float64.
SIGMOID_FORM_MIN_ELEMENTS = 10_000


class Tanh(Module):
    """y = tanh(x); dL/dx = dL/dy * (1 - y^2), computed as dL/dy - dL/dy * y^2."""

    def forward(self, input: Tensor) -> Tensor:
        if input.is_cpu and input.numel() >= SIGMOID_FORM_MIN_ELEMENTS:
            self.output = tanh_via_sigmoid(input)
        else:
            self.output = torch.tanh(input)
        return self.output

    def backward(self, grad_output: Tensor) -> Tensor:
        return torch.addcmul(grad_output, grad_output, self.output.square(), value=-1)


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x)); dL/dx = dL/dy * y * (1 - y), computed as dL/dy * (y - y^2)."""

    def forward(self, input: Tensor) -> Tensor:
        self.output = torch.sigmoid(input)
        return self.output

    def backward(self, grad_output: Tensor) -> Tensor:
        return grad_output * (self.output - self.output.square())


class ReLU(Module):
    """y = max(x, 0); dL/dx = dL/dy where x > 0, else 0 (0 at x = 0, as torch)."""

    def forward(self, input: Tensor) -> Tensor:
        self.positive = input > 0
        return torch.relu(input)

    def backward(self, grad_output: Tensor) -> Tensor:
        return grad_output * self.positive


def tanh_via_sigmoid(input: Tensor) -> Tensor:
    """tanh(x) = 2 sigmoid(2x) - 1, with one allocation."""
    output = input * 2
    torch.sigmoid_(output)
    return output.mul_(2).sub_(1)
