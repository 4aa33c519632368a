"""Stochastic gradient descent, step for step the update of torch.optim.SGD."""

from __future__ import annotations

from torch import Tensor


class SGD:
    """For each parameter p with gradient g, one step does

        g <- g + weight_decay * p
        b <- g on the first step, then b <- momentum * b + (1 - dampening) * g
        g <- g + momentum * b with nesterov, else g <- b      (only when momentum > 0)
        p <- p - lr * g

    ``params`` is a list of (parameter, gradient) pairs, as Module.param returns.
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
        if lr <= 0:
            raise ValueError(f"SGD lr must be > 0, got {lr}")
        if not 0 <= momentum < 1:
            raise ValueError(f"SGD momentum must lie in [0, 1), got {momentum}")
        if weight_decay < 0:
            raise ValueError(f"SGD weight_decay must be >= 0, got {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD nesterov requires momentum > 0 and dampening = 0")
        self.params = list(params)
        self.lr = lr
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weight_decay = weight_decay
        self.momentum_buffers: list[Tensor | None] = [None] * len(self.params)

    def step(self) -> None:
        for index, (parameter, gradient) in enumerate(self.params):
            direction = gradient
            if self.weight_decay != 0:
                direction = direction.add(parameter, alpha=self.weight_decay)

            if self.momentum != 0:
                direction = self._apply_momentum(index, direction)

            parameter.add_(direction, alpha=-self.lr)

    def _apply_momentum(self, index: int, direction: Tensor) -> Tensor:
        buffer = self.momentum_buffers[index]
        if buffer is None:
            buffer = direction.clone()
            self.momentum_buffers[index] = buffer
        else:
            buffer.mul_(self.momentum).add_(direction, alpha=1 - self.dampening)

        if self.nesterov:
            return direction.add(buffer, alpha=self.momentum)
        return buffer

    def zero_grad(self) -> None:
        for _, gradient in self.params:
            gradient.zero_()

    def __repr__(self) -> str:
        return (
            f"SGD(lr={self.lr}, momentum={self.momentum}, dampening={self.dampening}, "
            f"nesterov={self.nesterov}, weight_decay={self.weight_decay})"
        )
