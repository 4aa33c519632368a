"""Lockstep check: minidl and torch.nn + autograd from the same start, fed the same batches.

Both models start from minidl's initial weights and take the same minibatches
in the same order. After every step the two losses and every parameter are
compared; the check passes when no difference exceeds the dtype's tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from minidl.reference import (
    copy_minidl_weights,
    make_reference_loss,
    make_reference_model,
    make_reference_optimizer,
    reference_step,
)
from minidl.runner.build import (
    make_data,
    make_generators,
    make_loss,
    make_model,
    make_optimizer,
    make_targets,
)
from minidl.runner.config import Config
from minidl.runner.training import epoch_order, minibatches, train_step

TOLERANCE = {"float32": 1e-5, "float64": 1e-10}


@dataclass
class Deviation:
    """A difference between the frameworks, where it occurred: step (1-based) and quantity."""

    value: float
    step: int
    quantity: str  # "loss" or a parameter name such as "2.weight"


@dataclass
class LockstepResult:
    dtype: str
    tolerance: float
    steps: int = 0
    max_loss_difference: Deviation = field(
        default_factory=lambda: Deviation(0.0, 0, "loss")
    )
    max_parameter_difference: Deviation = field(
        default_factory=lambda: Deviation(0.0, 0, "-")
    )
    first_failure: Deviation | None = None
    trajectory: list[tuple[int, float, float, float]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.first_failure is None

    def record(self, step: int, quantity: str, difference: float) -> None:
        """Track the largest difference and the first one beyond tolerance."""
        largest = (
            self.max_loss_difference
            if quantity == "loss"
            else self.max_parameter_difference
        )
        if difference > largest.value:
            largest.value, largest.step, largest.quantity = difference, step, quantity
        if self.first_failure is None and not difference <= self.tolerance:
            self.first_failure = Deviation(difference, step, quantity)


def lockstep(
    config: Config,
    max_steps: int | None = None,
    on_step: Callable[[int, int], None] | None = None,
) -> LockstepResult:
    """Train both frameworks side by side for the config's epochs (or max_steps steps)."""
    generators = make_generators([config.seed])
    data = make_data(config, generators)
    model = make_model(config, generators)
    loss_function = make_loss(config)
    optimizer = make_optimizer(config, model)
    targets = make_targets(config, data.train_labels, data.classes)

    reference = make_reference_model(config)
    pairs = copy_minidl_weights(model, reference)
    reference_loss = make_reference_loss(config)
    reference_optimizer = make_reference_optimizer(config, reference)

    result = LockstepResult(dtype=config.dtype, tolerance=TOLERANCE[config.dtype])
    total = _total_steps(config, max_steps)
    step = 0
    for _ in range(config.training.epochs):
        order = epoch_order(config, generators, data.train_inputs.device)
        for inputs, batch_targets in minibatches(config, data, targets, order):
            step += 1
            with torch.no_grad():
                loss = train_step(
                    model, loss_function, optimizer, inputs, batch_targets
                ).item()

            expected = reference_step(
                reference,
                reference_loss,
                reference_optimizer,
                inputs[0],
                batch_targets[0],
            )
            _compare(result, step, loss, expected, pairs)
            if on_step is not None:
                on_step(step, total)
            if step == total:
                result.steps = step
                return result
    result.steps = step
    return result


def _compare(
    result: LockstepResult,
    step: int,
    loss: float,
    expected: float,
    pairs: list[tuple[str, Tensor, Tensor]],
) -> None:
    loss_difference = _difference(loss, expected)
    result.trajectory.append((step, loss, expected, loss_difference))
    result.record(step, "loss", loss_difference)
    with torch.no_grad():
        for name, ours, theirs in pairs:
            result.record(step, name, (ours - theirs).abs().max().item())


def _difference(a: float, b: float) -> float:
    """|a - b|, with two equal non-finite values counted as no difference."""
    if a == b:
        return 0.0
    if math.isfinite(a) and math.isfinite(b):
        return abs(a - b)
    return math.inf


def _total_steps(config: Config, max_steps: int | None) -> int:
    batches = -(-config.data.train_size // config.training.batch_size)
    total = config.training.epochs * batches
    return total if max_steps is None else min(total, max_steps)
