"""Element-wise activations. Each caches what its derivative needs in forward."""

from __future__ import annotations

import torch
from torch import Tensor

from minidl.module import Module


class Tanh(Module):
    """y = tanh(x); dL/dx = dL/dy * (1 - y^2), computed as dL/dy - dL/dy * y^2."""

    def forward(self, input: Tensor) -> Tensor:
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
