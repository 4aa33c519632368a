"""Stochastic gradient descent, step for step the update of torch.optim.SGD."""

from __future__ import annotations

import math

import torch
from torch import Tensor


class SGD:
    """For each parameter p with gradient g, one step does

        g <- g + weight_decay * p
        b <- g on the first step, then b <- momentum * b + (1 - dampening) * g
        g <- g + momentum * b with nesterov, else g <- b      (only when momentum > 0)
        p <- p - lr * g

    ``params`` is a list of (parameter, gradient) pairs, as Module.param returns.
    Each line acts on all parameters in one call (torch's _foreach kernels), so
    a step costs a few dispatches, not a few per parameter.
    """

    def __init__(
        self,
        params: list[tuple[Tensor, Tensor]],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"SGD lr must be a finite number > 0, got {lr}")
        if not 0 <= momentum < 1:
            raise ValueError(f"SGD momentum must lie in [0, 1), got {momentum}")
        if weight_decay < 0:
            raise ValueError(f"SGD weight_decay must be >= 0, got {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD nesterov requires momentum > 0 and dampening = 0")
        self.params = list(params)
        self.parameters = [parameter for parameter, _ in self.params]
        self.gradients = [gradient for _, gradient in self.params]
        self.lr = lr
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weight_decay = weight_decay
        self.momentum_buffers: list[Tensor] | None = None

    def step(self) -> None:
        parameters, directions = self.parameters, self.gradients

        if self.weight_decay != 0:
            directions = torch._foreach_add(
                directions, parameters, alpha=self.weight_decay
            )

        if self.momentum != 0:
            directions = self._apply_momentum(directions)

        torch._foreach_add_(parameters, directions, alpha=-self.lr)

    def _apply_momentum(self, directions: list[Tensor]) -> list[Tensor]:
        """Update the momentum buffers b and return the step direction they give."""
        if self.momentum_buffers is None:
            self.momentum_buffers = torch._foreach_mul(directions, 1.0)  # b = g, a copy
        else:
            torch._foreach_mul_(self.momentum_buffers, self.momentum)
            torch._foreach_add_(
                self.momentum_buffers, directions, alpha=1 - self.dampening
            )

        if self.nesterov:
            return torch._foreach_add(
                directions, self.momentum_buffers, alpha=self.momentum
            )
        return self.momentum_buffers

    def zero_grad(self) -> None:
        torch._foreach_zero_(self.gradients)

    def __repr__(self) -> str:
        return (
            f"SGD(lr={self.lr}, momentum={self.momentum}, dampening={self.dampening}, "
            f"nesterov={self.nesterov}, weight_decay={self.weight_decay})"
        )
