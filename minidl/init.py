"""Weight initialisation, with torch.nn.init's gains and Xavier (Glorot) bounds.

A weight is (..., fan_out, fan_in): any leading dimensions are replicas, each
initialised as its own (fan_out, fan_in) matrix.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

_UNIT_GAIN = {"linear", "identity", "sigmoid"}


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Return the recommended gain for a nonlinearity: linear 1, sigmoid 1, tanh 5/3,
    relu sqrt(2), leaky_relu sqrt(2 / (1 + slope^2)) with slope 0.01 unless given."""
    if nonlinearity in _UNIT_GAIN:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    raise ValueError(
        f"unsupported nonlinearity {nonlinearity!r}: expected one of "
        "linear, identity, sigmoid, tanh, relu, leaky_relu"
    )


def xavier_bound(weight: Tensor, gain: float = 1.0) -> float:
    """a = gain * sqrt(6 / (fan_in + fan_out)), the half-width of Xavier's uniform."""
    fan_out, fan_in = weight.shape[-2], weight.shape[-1]
    return gain * math.sqrt(6.0 / (fan_in + fan_out))


def xavier_std(weight: Tensor, gain: float = 1.0) -> float:
    """std = gain * sqrt(2 / (fan_in + fan_out)), the spread of Xavier's normal."""
    fan_out, fan_in = weight.shape[-2], weight.shape[-1]
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


def xavier_uniform_(
    weight: Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    """Fill weight in place from U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    # sqrt(3) * std equals xavier_bound; this order of operations is torch.nn.init's,
    # so float64 bounds agree to the last bit.
    bound = math.sqrt(3.0) * xavier_std(weight, gain)
    return weight.uniform_(-bound, bound, generator=generator)


def xavier_normal_(
    weight: Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    """Fill weight in place from N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    return weight.normal_(0.0, xavier_std(weight, gain), generator=generator)


def linear_default_(
    weight: Tensor, bias: Tensor, generator: torch.Generator | None = None
) -> None:
    """Fill weight, then bias, from U(-1/sqrt(fan_in), 1/sqrt(fan_in)): torch.nn.Linear's init."""
    fan_in = weight.shape[-1]
    # torch.nn.Linear draws its weight by kaiming_uniform_(a=sqrt(5)), whose bound
    # sqrt(3) * gain / sqrt(fan_in) is 1/sqrt(fan_in) up to float64 rounding.
    # Computing it the same way keeps float64 weights bit-identical to torch's.
    kaiming_std = calculate_gain("leaky_relu", math.sqrt(5)) / math.sqrt(fan_in)
    weight_bound = math.sqrt(3.0) * kaiming_std
    weight.uniform_(-weight_bound, weight_bound, generator=generator)

    bias_bound = 1 / math.sqrt(fan_in)
    bias.uniform_(-bias_bound, bias_bound, generator=generator)
