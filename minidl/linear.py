"""The affine layer y = x W^T + b, with W stored (out, in) as in torch.nn.Linear."""

from __future__ import annotations

import torch
from torch import Tensor

from minidl.init import linear_default_
from minidl.module import Module, sum_to_shape


class Linear(Module):
    """y = x W^T + b for input (..., N, in_features) and output (..., N, out_features).

    Backward, for dL/dy = G:  dL/dW = G^T x,  dL/db = sum of G over N,  dL/dx = G W.
    With ``replicas=R`` the weight is (R, out, in) and the bias (R, out): R
    independent layers applied to input (R, N, in_features) in one matmul.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        replicas: int | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        self.in_features = in_features
        self.out_features = out_features
        self.replicas = replicas
        leading = () if replicas is None else (replicas,)
        options = {"dtype": dtype, "device": device}

        self.weight = torch.empty(*leading, out_features, in_features, **options)
        self.bias = torch.empty(*leading, out_features, **options)
        self.grad_weight = torch.zeros_like(self.weight)
        self.grad_bias = torch.zeros_like(self.bias)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Draw W and b uniformly on +-1/sqrt(in_features), torch.nn.Linear's default."""
        linear_default_(self.weight, self.bias, generator)

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() < 2 or input.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear expects input of shape (..., N, {self.in_features}), "
                f"got {tuple(input.shape)}"
            )
        self.input = input
        return torch.matmul(input, self.weight.mT) + self.bias.unsqueeze(-2)

    def backward(self, grad_output: Tensor) -> Tensor:
        grad_weight = torch.matmul(grad_output.mT, self.input)
        grad_bias = grad_output.sum(-2)

        self.grad_weight += sum_to_shape(grad_weight, self.weight.shape)
        self.grad_bias += sum_to_shape(grad_bias, self.bias.shape)

        grad_input = torch.matmul(grad_output, self.weight)
        return sum_to_shape(grad_input, self.input.shape)

    def param(self) -> list[tuple[Tensor, Tensor]]:
        return [(self.weight, self.grad_weight), (self.bias, self.grad_bias)]

    def to(self, device: torch.device | str) -> Linear:
        """Move the parameters and their gradients to a device; return self."""
        self.weight = self.weight.to(device)
        self.bias = self.bias.to(device)
        self.grad_weight = self.grad_weight.to(device)
        self.grad_bias = self.grad_bias.to(device)
        return self

    def extra_repr(self) -> str:
        text = f"in_features={self.in_features}, out_features={self.out_features}, bias=True"
        if self.replicas is not None:
            text += f", replicas={self.replicas}"
        return text
