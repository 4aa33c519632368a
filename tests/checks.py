"""Shared tolerances and a float64 central-difference gradient for the test suite."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

# Hand-written backward against torch.autograd. Both run in float64, so only rounding
# differs.
AUTOGRAD_ATOL = 1e-10

# Central differences in float64: truncation error is O(eps^2) and rounding error is
# about 1e-16 * |f| / eps, so with eps = 1e-6 and |f| below 1e2 both stay under 1e-8.
FD_EPS = 1e-6
FD_ATOL = 1e-6


def max_abs_diff(actual: Tensor, expected: Tensor) -> float:
    """Return max |actual - expected|, raising AssertionError when the shapes differ."""
    if actual.shape != expected.shape:
        raise AssertionError(
            f"shape mismatch: got {tuple(actual.shape)}, expected {tuple(expected.shape)}"
        )
    if actual.numel() == 0:
        return 0.0
    return (actual - expected).abs().max().item()


def central_difference(
    function: Callable[[], Tensor], tensor: Tensor, eps: float = FD_EPS
) -> Tensor:
    """Estimate d function() / d tensor by (f(t + eps) - f(t - eps)) / (2 eps) per element.

    ``function`` takes no arguments and reads ``tensor``, which is perturbed in place
    one element at a time and restored afterwards. It must return a scalar.
    """
    if tensor.dtype != torch.float64:
        raise TypeError(
            f"central_difference needs a float64 tensor, got {tensor.dtype}"
        )
    gradient = torch.zeros_like(tensor)
    flat_tensor = tensor.view(-1)
    flat_gradient = gradient.view(-1)
    for index in range(flat_tensor.numel()):
        original = flat_tensor[index].item()

        flat_tensor[index] = original + eps
        plus = float(function())
        flat_tensor[index] = original - eps
        minus = float(function())
        flat_tensor[index] = original

        flat_gradient[index] = (plus - minus) / (2 * eps)
    return gradient
