"""SGD against torch.optim.SGD, driven by the same sequence of gradients."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from minidl import SGD, Linear, MSELoss

# Both optimizers apply the same float64 operations, so they should agree to the last
# bit. The tolerance only allows for a reordered sum.
SGD_ATOL = 1e-12

STEPS = 10
LR = 0.1
SHAPES = [(3, 4), (4,), (2, 3, 2)]


def valid_settings():
    """Return every (momentum, dampening, nesterov, weight_decay) in the grid that torch
    accepts: nesterov needs momentum > 0 and dampening 0."""
    grid = itertools.product([0.0, 0.9], [0.0, 0.5], [False, True], [0.0, 0.01])
    cases = []
    for momentum, dampening, nesterov, weight_decay in grid:
        if nesterov and (momentum == 0 or dampening != 0):
            continue
        case = pytest.param(
            momentum,
            dampening,
            nesterov,
            weight_decay,
            id=f"m{momentum}-d{dampening}-nesterov{nesterov}-wd{weight_decay}",
        )
        cases.append(case)
    return cases


def gradient_sequence(seed=0):
    """Return STEPS lists of random gradients, one tensor per shape in SHAPES."""
    generator = torch.Generator().manual_seed(seed)
    return [
        [
            torch.randn(shape, generator=generator, dtype=torch.float64)
            for shape in SHAPES
        ]
        for _ in range(STEPS)
    ]


def initial_parameters(seed=1):
    generator = torch.Generator().manual_seed(seed)
    return [
        torch.randn(shape, generator=generator, dtype=torch.float64) for shape in SHAPES
    ]


@pytest.mark.parametrize(
    "momentum, dampening, nesterov, weight_decay", valid_settings()
)
def test_sgd_matches_torch(momentum, dampening, nesterov, weight_decay):
    settings = {
        "lr": LR,
        "momentum": momentum,
        "dampening": dampening,
        "nesterov": nesterov,
        "weight_decay": weight_decay,
    }
    parameters = initial_parameters()
    gradients = [torch.zeros_like(parameter) for parameter in parameters]
    optimizer = SGD(list(zip(parameters, gradients)), **settings)

    torch_parameters = [p.clone().requires_grad_() for p in initial_parameters()]
    torch_optimizer = torch.optim.SGD(torch_parameters, **settings)

    for step, step_gradients in enumerate(gradient_sequence()):
        for gradient, torch_parameter, value in zip(
            gradients, torch_parameters, step_gradients
        ):
            gradient.copy_(value)
            torch_parameter.grad = value.clone()
        optimizer.step()
        torch_optimizer.step()

        for index, (parameter, torch_parameter) in enumerate(
            zip(parameters, torch_parameters)
        ):
            difference = (parameter - torch_parameter.detach()).abs().max().item()
            assert difference < SGD_ATOL, f"step {step}, parameter {index}"


def test_sgd_leaves_gradients_unchanged():
    # torch.optim.SGD reads p.grad without modifying it, so weight decay and momentum
    # must work on copies of the gradient buffer.
    parameters = initial_parameters()
    gradients = [g.clone() for g in gradient_sequence()[0]]
    before = [g.clone() for g in gradients]
    optimizer = SGD(
        list(zip(parameters, gradients)), lr=LR, momentum=0.9, weight_decay=0.01
    )
    optimizer.step()
    optimizer.step()

    for gradient, original in zip(gradients, before):
        assert torch.equal(gradient, original)


def test_sgd_trains_linear_like_torch():
    # Reads the gradient buffers Linear.param() exposes, which backward fills in place.
    generator = torch.Generator().manual_seed(0)
    input = torch.randn(8, 3, dtype=torch.float64, generator=generator)
    target = torch.randn(8, 2, dtype=torch.float64, generator=generator)
    layer = Linear(3, 2, dtype=torch.float64, generator=generator)
    loss = MSELoss()
    optimizer = SGD(layer.param(), lr=LR, momentum=0.9)

    weight = layer.weight.clone().requires_grad_()
    bias = layer.bias.clone().requires_grad_()
    torch_optimizer = torch.optim.SGD([weight, bias], lr=LR, momentum=0.9)

    for _ in range(STEPS):
        optimizer.zero_grad()
        loss.forward(layer.forward(input), target)
        layer.backward(loss.backward())
        optimizer.step()

        torch_optimizer.zero_grad()
        torch.nn.functional.mse_loss(input @ weight.mT + bias, target).backward()
        torch_optimizer.step()

    assert (layer.weight - weight.detach()).abs().max().item() < SGD_ATOL
    assert (layer.bias - bias.detach()).abs().max().item() < SGD_ATOL


def test_sgd_zero_grad_zeroes_gradients():
    parameters = initial_parameters()
    gradients = [g.clone() for g in gradient_sequence()[0]]
    optimizer = SGD(list(zip(parameters, gradients)), lr=LR)
    optimizer.zero_grad()

    for gradient in gradients:
        assert torch.count_nonzero(gradient) == 0


def test_sgd_zero_grad_zeroes_module_buffers():
    layer = Linear(3, 2)
    layer.grad_weight.fill_(1.0)
    layer.grad_bias.fill_(1.0)
    SGD(layer.param(), lr=LR).zero_grad()

    assert torch.count_nonzero(layer.grad_weight) == 0
    assert torch.count_nonzero(layer.grad_bias) == 0


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"lr": -0.1}, id="negative-lr"),
        pytest.param({"lr": LR, "momentum": -0.5}, id="negative-momentum"),
        pytest.param({"lr": LR, "weight_decay": -0.01}, id="negative-weight-decay"),
        pytest.param({"lr": LR, "nesterov": True}, id="nesterov-without-momentum"),
        pytest.param(
            {"lr": LR, "momentum": 0.9, "dampening": 0.5, "nesterov": True},
            id="nesterov-with-dampening",
        ),
    ],
)
def test_sgd_rejects_invalid_settings(settings):
    with pytest.raises(ValueError):
        SGD(Linear(3, 2).param(), **settings)


@pytest.mark.parametrize("lr", [math.inf, math.nan])
def test_sgd_non_finite_lr_raises(lr):
    weight = torch.zeros(2)
    with pytest.raises(ValueError):
        SGD([(weight, torch.zeros(2))], lr=lr)
