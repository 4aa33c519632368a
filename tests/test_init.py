"""Gains, Xavier initialisation and Linear's default initialisation against
torch.nn.init and torch.nn.Linear, drawn from identically seeded generators."""

from __future__ import annotations

import math

import pytest
import torch

from minidl import Linear
from minidl.init import (
    calculate_gain,
    xavier_bound,
    xavier_normal_,
    xavier_std,
    xavier_uniform_,
)

# The bound helpers and the reference formulas are the same expression rearranged,
# so they may differ by a few units in the last place of a float64.
FORMULA_RTOL = 1e-15

DTYPES = [
    pytest.param(torch.float32, id="float32"),
    pytest.param(torch.float64, id="float64"),
]

# (fan_out, fan_in) of one weight matrix
MATRIX_SHAPES = [(3, 4), (25, 2), (7, 3), (1, 1)]

GAINS = [
    pytest.param(1.0, id="gain1"),
    pytest.param(5.0 / 3, id="gain5/3"),
    pytest.param(0.7, id="gain0.7"),
]


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


# calculate_gain


@pytest.mark.parametrize(
    "nonlinearity, param",
    [
        ("linear", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("leaky_relu", 0),
        ("leaky_relu", math.sqrt(5)),
    ],
)
def test_gain_matches_torch(nonlinearity, param):
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert calculate_gain(nonlinearity, param) == expected


@pytest.mark.parametrize("nonlinearity", ["softplus", "Tanh", ""])
def test_gain_rejects_unknown_nonlinearity(nonlinearity):
    with pytest.raises(ValueError):
        calculate_gain(nonlinearity)


# Xavier


@pytest.mark.parametrize("shape", MATRIX_SHAPES)
@pytest.mark.parametrize("gain", GAINS)
def test_xavier_bound_matches_formula(shape, gain):
    fan_out, fan_in = shape
    expected = gain * math.sqrt(6.0 / (fan_in + fan_out))
    assert math.isclose(
        xavier_bound(torch.empty(shape), gain), expected, rel_tol=FORMULA_RTOL
    )


@pytest.mark.parametrize("shape", MATRIX_SHAPES)
@pytest.mark.parametrize("gain", GAINS)
def test_xavier_std_matches_formula(shape, gain):
    fan_out, fan_in = shape
    expected = gain * math.sqrt(2.0 / (fan_in + fan_out))
    assert math.isclose(
        xavier_std(torch.empty(shape), gain), expected, rel_tol=FORMULA_RTOL
    )


def test_xavier_bound_uses_last_two_dims():
    # A (replicas, fan_out, fan_in) weight is initialised as separate matrices.
    expected = math.sqrt(6.0 / (3 + 4))
    assert math.isclose(
        xavier_bound(torch.empty(5, 3, 4)), expected, rel_tol=FORMULA_RTOL
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", MATRIX_SHAPES)
@pytest.mark.parametrize("gain", GAINS)
def test_xavier_uniform_matches_torch(shape, gain, dtype):
    weight = xavier_uniform_(torch.empty(shape, dtype=dtype), gain, generator=seeded())
    expected = torch.empty(shape, dtype=dtype)
    torch.nn.init.xavier_uniform_(expected, gain, generator=seeded())

    difference = (weight - expected).abs().max().item()
    assert torch.equal(weight, expected), f"max abs difference {difference:.3g}"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", MATRIX_SHAPES)
@pytest.mark.parametrize("gain", GAINS)
def test_xavier_normal_matches_torch(shape, gain, dtype):
    weight = xavier_normal_(torch.empty(shape, dtype=dtype), gain, generator=seeded())
    expected = torch.empty(shape, dtype=dtype)
    torch.nn.init.xavier_normal_(expected, gain, generator=seeded())

    difference = (weight - expected).abs().max().item()
    assert torch.equal(weight, expected), f"max abs difference {difference:.3g}"


def test_xavier_uniform_fills_in_place():
    weight = torch.empty(3, 4)
    assert xavier_uniform_(weight, generator=seeded()) is weight


def test_xavier_normal_fills_in_place():
    weight = torch.empty(3, 4)
    assert xavier_normal_(weight, generator=seeded()) is weight


@pytest.mark.parametrize("shape", [(4, 3, 5), (3, 25, 2)])
def test_xavier_uniform_replicas_are_separate_matrices(shape):
    replicas = shape[0]
    weight = xavier_uniform_(torch.empty(shape), 1.5, generator=seeded())

    # torch.nn.init on each (fan_out, fan_in) slice in turn, from one generator.
    # In torch 2.13 on CPU, uniform_ draws elements in order, so one call over the
    # whole tensor and consecutive calls over its slices use the same random numbers.
    generator = seeded()
    expected = torch.empty(shape)
    for replica in range(replicas):
        torch.nn.init.xavier_uniform_(expected[replica], 1.5, generator=generator)

    assert torch.equal(weight, expected)
    assert not torch.equal(weight[0], weight[1])


@pytest.mark.parametrize("shape", [(4, 3, 5), (3, 25, 2)])
def test_xavier_normal_replicas_are_separate_matrices(shape):
    weight = xavier_normal_(
        torch.empty(shape, dtype=torch.float64), 1.5, generator=seeded()
    )

    fan_out, fan_in = shape[-2:]
    std = 1.5 * math.sqrt(2.0 / (fan_in + fan_out))
    standard = torch.empty(shape, dtype=torch.float64).normal_(generator=seeded())
    assert torch.allclose(weight, standard * std, rtol=1e-15, atol=0)
    assert not torch.equal(weight[0], weight[1])


# Linear's default initialisation


def torch_linear_init(in_features, out_features, dtype, generator):
    """Return torch.nn.Linear's weight and bias, re-drawn from ``generator`` by the
    same calls as torch.nn.Linear.reset_parameters."""
    layer = torch.nn.Linear(in_features, out_features, dtype=dtype)
    with torch.no_grad():
        torch.nn.init.kaiming_uniform_(
            layer.weight, a=math.sqrt(5), generator=generator
        )
        bound = 1 / math.sqrt(in_features)
        torch.nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer.weight.detach(), layer.bias.detach()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "in_features, out_features", [(1, 3), (2, 25), (7, 3), (25, 2)]
)
def test_linear_init_matches_torch_linear(in_features, out_features, dtype):
    layer = Linear(in_features, out_features, dtype=dtype, generator=seeded())
    weight, bias = torch_linear_init(in_features, out_features, dtype, seeded())

    difference = (layer.weight - weight).abs().max().item()
    assert torch.equal(layer.weight, weight), f"max abs difference {difference:.3g}"
    assert torch.equal(layer.bias, bias)


def test_linear_init_replicas_are_separate_matrices():
    replicas, in_features, out_features = 3, 4, 5
    layer = Linear(in_features, out_features, replicas=replicas, generator=seeded())

    # All replica weights are drawn first, then all biases, each slice with
    # torch.nn.Linear's per-matrix bound 1/sqrt(in_features).
    generator = seeded()
    weight = torch.empty(replicas, out_features, in_features)
    bias = torch.empty(replicas, out_features)
    for replica in range(replicas):
        torch.nn.init.kaiming_uniform_(
            weight[replica], a=math.sqrt(5), generator=generator
        )
    bound = 1 / math.sqrt(in_features)
    for replica in range(replicas):
        torch.nn.init.uniform_(bias[replica], -bound, bound, generator=generator)

    assert torch.equal(layer.weight, weight)
    assert torch.equal(layer.bias, bias)
    assert not torch.equal(layer.weight[0], layer.weight[1])


def test_linear_init_stays_within_bound():
    # 100 x 400 draws per replica: the largest lies within 1% of the bound with
    # probability 1 - 0.99^40000, which is 1 to double precision.
    layer = Linear(400, 100, replicas=2, generator=seeded())
    bound = 1 / math.sqrt(400)

    for replica in range(2):
        largest = layer.weight[replica].abs().max().item()
        assert largest <= bound
        assert largest > 0.99 * bound


def test_linear_reset_parameters_redraws():
    layer = Linear(3, 2, generator=seeded(0))
    first = layer.weight.clone()
    layer.reset_parameters(seeded(1))
    assert not torch.equal(layer.weight, first)
    layer.reset_parameters(seeded(0))
    assert torch.equal(layer.weight, first)
