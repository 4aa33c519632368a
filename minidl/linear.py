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
    With ``input_gradient=False`` backward skips dL/dx and returns None: for a
    first layer, whose input is data that needs no gradient.
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
        input_gradient: bool = True,
    ) -> None:
        self.in_features = in_features
        self.out_features = out_features
        self.replicas = replicas
        self.input_gradient = input_gradient
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
        self.layout = _layout(input, self.weight)
        return affine(input, self.weight, self.bias, self.layout)

    def backward(self, grad_output: Tensor) -> Tensor | None:
        layout = self.layout
        accumulate_outer(self.grad_weight, grad_output, self.input, layout)
        if layout == BROADCAST:
            self.grad_bias += sum_to_shape(grad_output.sum(-2), self.bias.shape)
        else:
            self.grad_bias += grad_output.sum(-2)

        if not self.input_gradient:
            return None
        return input_gradient(grad_output, self.weight, self.input, layout)

    def param(self) -> list[tuple[Tensor, Tensor]]:
        return [(self.weight, self.grad_weight), (self.bias, self.grad_bias)]

    def to(self, device: torch.device | str) -> Linear:
        """Move the parameters and their gradients to a device; return self.

        NOTE: moving makes new tensors, so build the optimizer afterwards: an SGD
        built before keeps updating the old ones.
        """
        self.weight = self.weight.to(device)
        self.bias = self.bias.to(device)
        self.grad_weight = self.grad_weight.to(device)
        self.grad_bias = self.grad_bias.to(device)
        return self

    def extra_repr(self) -> str:
        text = f"in_features={self.in_features}, out_features={self.out_features}, bias=True"
        if self.replicas is not None:
            text += f", replicas={self.replicas}"
        if not self.input_gradient:
            text += ", input_gradient=False"
        return text


# Each product has one fused kernel for the two layouts training meets: a single
# model (2-D input and weight), and replicas (3-D input and weight with the same
# leading size). Any other leading dimensions broadcast through matmul and are
# summed back to the parameter's shape.
SINGLE, REPLICAS, BROADCAST = "single", "replicas", "broadcast"


def _layout(input: Tensor, weight: Tensor) -> str:
    if input.dim() == 2 and weight.dim() == 2:
        return SINGLE
    if input.dim() == 3 and weight.dim() == 3 and input.shape[0] == weight.shape[0]:
        return REPLICAS
    return BROADCAST


def affine(input: Tensor, weight: Tensor, bias: Tensor, layout: str) -> Tensor:
    """x W^T + b."""
    if layout == SINGLE:
        return torch.addmm(bias, input, weight.T)
    if layout == REPLICAS:
        return torch.baddbmm(bias.unsqueeze(-2), input, weight.mT)
    return torch.matmul(input, weight.mT) + bias.unsqueeze(-2)


def accumulate_outer(
    grad_weight: Tensor, grad_output: Tensor, input: Tensor, layout: str
) -> None:
    """grad_weight += G^T x."""
    if layout == SINGLE:
        grad_weight.addmm_(grad_output.T, input)
    elif layout == REPLICAS:
        grad_weight.baddbmm_(grad_output.mT, input)
    else:
        outer = torch.matmul(grad_output.mT, input)
        grad_weight += sum_to_shape(outer, grad_weight.shape)


def input_gradient(
    grad_output: Tensor, weight: Tensor, input: Tensor, layout: str
) -> Tensor:
    """G W, the gradient with respect to the layer's input."""
    if layout == SINGLE:
        return torch.mm(grad_output, weight)
    if layout == REPLICAS:
        return torch.bmm(grad_output, weight)
    return sum_to_shape(torch.matmul(grad_output, weight), input.shape)
