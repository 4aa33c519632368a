"""Losses over a batch of predictions (..., N, C); leading dimensions are replicas.

``forward(prediction, target)`` returns one mean loss per replica (a scalar when
the prediction is (N, C)) and ``backward()`` returns dL/d(prediction), where L is
the sum of the replicas' losses, so each replica receives exactly the gradient
of its own loss.
"""

from __future__ import annotations

import math

from torch import Tensor

from minidl.data import one_hot


def _sample_dims(prediction: Tensor) -> tuple[int, ...]:
    """Return the trailing dimensions one replica's mean runs over: (N, C), or all of a 1-D input."""
    return tuple(range(-min(prediction.dim(), 2), 0))


class MSELoss:
    """L = sum((prediction - target)^2) / numel; dL/d(prediction) = 2 (prediction - target) / numel.

    numel counts the elements of one replica (N * C), as torch.nn.MSELoss counts
    all elements of its input. The target must have the prediction's shape.
    """

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        if target.shape != prediction.shape:
            raise ValueError(
                f"MSELoss expects a target of the prediction's shape "
                f"{tuple(prediction.shape)}, got {tuple(target.shape)}"
            )
        dims = _sample_dims(prediction)
        self.difference = prediction - target
        self.count = math.prod(prediction.shape[dim] for dim in dims)
        return self.difference.square().mean(dims)

    def backward(self) -> Tensor:
        return self.difference * (2 / self.count)

    def __call__(self, prediction: Tensor, target: Tensor) -> Tensor:
        return self.forward(prediction, target)

    def __repr__(self) -> str:
        return "MSELoss()"


class CrossEntropyLoss:
    """L = -mean over N of sum_c target_c * log_softmax(x)_c, for logits x (..., N, C).

    The target is class indices (..., N) or class probabilities (..., N, C).
    dL/dx = (softmax(x) * sum_c target_c - target) / N, which is
    (softmax(x) - onehot(y)) / N for indices. log_softmax subtracts each row's
    maximum before exponentiating, so logits of magnitude 1e4 stay finite.
    """

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        if prediction.dim() < 2:
            raise ValueError(
                f"CrossEntropyLoss expects logits of shape (..., N, C), got {tuple(prediction.shape)}"
            )
        self.target_probabilities = self._target_probabilities(prediction, target)

        shifted = prediction - prediction.amax(-1, keepdim=True)
        log_softmax = shifted - shifted.exp().sum(-1, keepdim=True).log()
        self.softmax = log_softmax.exp()
        self.batch_size = prediction.shape[-2]

        per_sample = -(self.target_probabilities * log_softmax).sum(-1)
        return per_sample.mean(-1)

    def backward(self) -> Tensor:
        target_mass = self.target_probabilities.sum(-1, keepdim=True)
        return (
            self.softmax * target_mass - self.target_probabilities
        ) / self.batch_size

    def _target_probabilities(self, prediction: Tensor, target: Tensor) -> Tensor:
        classes = prediction.shape[-1]
        if target.shape == prediction.shape and target.is_floating_point():
            return target
        if target.shape == prediction.shape[:-1] and not target.is_floating_point():
            if target.numel() and (target.min() < 0 or target.max() >= classes):
                raise ValueError(
                    f"CrossEntropyLoss class indices must lie in [0, {classes})"
                )
            return one_hot(target, classes, dtype=prediction.dtype)
        raise ValueError(
            f"CrossEntropyLoss expects integer class indices of shape "
            f"{tuple(prediction.shape[:-1])} or probabilities of shape "
            f"{tuple(prediction.shape)}, got {target.dtype} of shape {tuple(target.shape)}"
        )

    def __call__(self, prediction: Tensor, target: Tensor) -> Tensor:
        return self.forward(prediction, target)

    def __repr__(self) -> str:
        return "CrossEntropyLoss()"
