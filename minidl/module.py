"""The module contract and the container that chains modules.

Every module computes ``output = forward(input)`` and, given dL/d(output),
``backward`` returns dL/d(input) and adds dL/d(parameter) into each gradient
buffer. Leading dimensions beyond those a module needs pass through untouched,
so a stack of independent replicas (weights ``(R, out, in)``, data
``(R, N, features)``) runs on the same code as a single model.
"""

from __future__ import annotations

import torch
from torch import Tensor


class Module:
    """Base class: forward computes and caches, backward differentiates the cache."""

    def forward(self, input: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def backward(self, grad_output: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} does not define backward")

    def param(self) -> list[tuple[Tensor, Tensor]]:
        """Return (parameter, gradient) pairs; empty for a module without parameters."""
        return []

    def zero_grad(self) -> None:
        torch._foreach_zero_([gradient for _, gradient in self.param()])

    def to(self, device: torch.device | str) -> Module:
        """Move any parameters to a device; return self. Parameter-free modules stay as they are."""
        return self

    def __call__(self, input: Tensor) -> Tensor:
        return self.forward(input)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Sequential(Module):
    """Chain of modules: forward in order, backward in reverse order."""

    def __init__(self, *modules: Module) -> None:
        self.modules = list(modules)

    def forward(self, input: Tensor) -> Tensor:
        output = input
        for module in self.modules:
            output = module.forward(output)
        return output

    def backward(self, grad_output: Tensor) -> Tensor:
        grad = grad_output
        for module in reversed(self.modules):
            grad = module.backward(grad)
        return grad

    def param(self) -> list[tuple[Tensor, Tensor]]:
        return [pair for module in self.modules for pair in module.param()]

    def to(self, device: torch.device | str) -> Sequential:
        for module in self.modules:
            module.to(device)
        return self

    def __getitem__(self, index: int) -> Module:
        return self.modules[index]

    def __len__(self) -> int:
        return len(self.modules)

    def __repr__(self) -> str:
        if not self.modules:
            return "Sequential()"
        lines = [
            f"  ({index}): " + repr(module).replace("\n", "\n  ")
            for index, module in enumerate(self.modules)
        ]
        return "Sequential(\n" + "\n".join(lines) + "\n)"


def sum_to_shape(grad: Tensor, shape: torch.Size) -> Tensor:
    """Sum a broadcast gradient back down to the shape of the tensor it belongs to."""
    if grad.shape == shape:
        return grad
    return grad.sum_to_size(shape)
