"""The training loop: R replicas trained at once, one minibatch step at a time.

A single run is the case R = 1. Replicas never mix: every layer, loss and SGD
step acts per replica, so replica r follows the trajectory of a lone run with
its seed. A replica whose epoch loss turns NaN or infinite is marked diverged
and its parameters are frozen from then on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor

from minidl.loss import CrossEntropyLoss, MSELoss
from minidl.module import Sequential
from minidl.optim import SGD
from minidl.runner.build import (
    Data,
    make_data,
    make_generators,
    make_loss,
    make_model,
    make_optimizer,
    make_targets,
)
from minidl.runner.config import Config

Loss = MSELoss | CrossEntropyLoss

COMPLETED = "completed"
DIVERGED = "diverged"


@dataclass
class EpochStats:
    """Loss and error rates at the end of one epoch, one entry per replica."""

    epoch: int
    loss: list[float]
    train_error: list[float]
    test_error: list[float]
    seconds: float


@dataclass
class ReplicaResult:
    """The outcome of one seed's run. Error rates are fractions in [0, 1]."""

    seed: int
    train_error: float
    test_error: float
    final_loss: float
    status: str
    epochs_completed: int
    diverged_epoch: int | None = None


@dataclass
class TrainingResult:
    """Every replica's outcome, plus the trained model and the data it saw."""

    replicas: list[ReplicaResult]
    model: Sequential
    data: Data
    seconds: float
    history: list[EpochStats] = field(default_factory=list)


def error_rate(model: Sequential, inputs: Tensor, labels: Tensor) -> Tensor:
    """Fraction of points whose argmax output differs from the label, per replica."""
    predictions = model.forward(inputs).argmax(-1)
    mistakes = (predictions != labels).sum(-1, dtype=torch.float64)
    return mistakes / labels.shape[-1]


def error_rates(model: Sequential, data: Data) -> tuple[list[float], list[float]]:
    """Measure each replica's train and test error with one forward pass over both sets."""
    predictions = model.forward(data.evaluation_inputs).argmax(-1)
    wrong = predictions != data.evaluation_labels
    train_size = data.train_labels.shape[-1]
    train_wrong = wrong[:, :train_size].sum(-1, dtype=torch.float64) / train_size
    test_wrong = wrong[:, train_size:].sum(-1, dtype=torch.float64) / (
        wrong.shape[-1] - train_size
    )
    return train_wrong.tolist(), test_wrong.tolist()


def train(
    config: Config,
    seeds: list[int],
    on_epoch: Callable[[EpochStats], None] | None = None,
    evaluate_every_epoch: bool = True,
) -> TrainingResult:
    """Train one replica per seed, as one batched computation, for config's epochs.

    Error rates are measured after every epoch, or after the last one only when
    ``evaluate_every_epoch`` is False (the others are then NaN).
    """
    with torch.inference_mode():
        return _train(config, seeds, on_epoch, evaluate_every_epoch)


def _train(
    config: Config,
    seeds: list[int],
    on_epoch: Callable[[EpochStats], None] | None,
    evaluate_every_epoch: bool,
) -> TrainingResult:
    started = time.perf_counter()
    generators = make_generators(seeds)
    data = make_data(config, generators)
    model = make_model(config, generators)
    loss_function = make_loss(config)
    optimizer = make_optimizer(config, model)
    train_targets = make_targets(config, data.train_labels, data.classes)
    freezer = Freezer(optimizer, len(seeds))

    history: list[EpochStats] = []
    for epoch in range(1, config.training.epochs + 1):
        order = epoch_order(config, generators, data.train_inputs.device)
        epoch_loss = _train_epoch(
            config, model, loss_function, optimizer, data, train_targets, order, freezer
        )

        if evaluate_every_epoch or epoch == config.training.epochs:
            train_error, test_error = error_rates(model, data)
        else:
            train_error = test_error = [math.nan] * len(seeds)
        stats = EpochStats(
            epoch=epoch,
            loss=epoch_loss.tolist(),
            train_error=train_error,
            test_error=test_error,
            seconds=time.perf_counter() - started,
        )
        freezer.freeze_diverged(stats)
        history.append(stats)
        if on_epoch is not None:
            on_epoch(stats)
        if freezer.all_frozen():
            break

    seconds = time.perf_counter() - started
    replicas = [
        _replica_result(seed, r, history, freezer) for r, seed in enumerate(seeds)
    ]
    return TrainingResult(
        replicas=replicas, model=model, data=data, seconds=seconds, history=history
    )


def epoch_order(
    config: Config, generators: list[torch.Generator], device: torch.device
) -> Tensor | None:
    """Draw each replica's permutation of its training set; None without shuffling."""
    if not config.training.shuffle:
        return None
    size = config.data.train_size
    permutations = [
        torch.randperm(size, generator=generator) for generator in generators
    ]
    return torch.stack(permutations).to(device)


def minibatches(
    config: Config, data: Data, targets: Tensor, order: Tensor | None
) -> Iterator[tuple[Tensor, Tensor]]:
    """Yield the epoch's minibatches of (inputs, targets) in the given order of the training set."""
    inputs = data.train_inputs
    if order is not None:
        inputs = inputs.gather(-2, order.unsqueeze(-1).expand_as(inputs))
        targets = _gather_rows(targets, order)

    batch_size = config.training.batch_size
    for start in range(0, inputs.shape[-2], batch_size):
        yield (
            inputs[:, start : start + batch_size],
            targets[:, start : start + batch_size],
        )


def train_step(
    model: Sequential,
    loss_function: Loss,
    optimizer: SGD,
    inputs: Tensor,
    targets: Tensor,
) -> Tensor:
    """Take one SGD step on a minibatch and return each replica's loss before the step."""
    loss = loss_function.forward(model.forward(inputs), targets)
    model.backward(loss_function.backward())
    optimizer.step()
    optimizer.zero_grad()
    return loss


def _train_epoch(
    config: Config,
    model: Sequential,
    loss_function: Loss,
    optimizer: SGD,
    data: Data,
    targets: Tensor,
    order: Tensor | None,
    freezer: Freezer,
) -> Tensor:
    """Make one pass over the training set in minibatches and return each replica's mean loss."""
    loss_sum = torch.zeros(
        len(freezer.diverged_epoch),
        dtype=data.train_inputs.dtype,
        device=data.train_inputs.device,
    )
    for inputs, batch_targets in minibatches(config, data, targets, order):
        loss = train_step(model, loss_function, optimizer, inputs, batch_targets)
        freezer.restore()
        loss_sum.add_(loss, alpha=inputs.shape[-2])
    return loss_sum / data.train_inputs.shape[-2]


def _gather_rows(values: Tensor, order: Tensor) -> Tensor:
    """Reorder (R, N) labels or (R, N, C) targets along N by the (R, N) order."""
    if values.dim() == 2:
        return values.gather(-1, order)
    return values.gather(-2, order.unsqueeze(-1).expand_as(values))


def _replica_result(
    seed: int, replica: int, history: list[EpochStats], freezer: Freezer
) -> ReplicaResult:
    last = history[-1]
    diverged_epoch = freezer.diverged_epoch[replica]
    if diverged_epoch is not None:
        return ReplicaResult(
            seed=seed,
            train_error=math.nan,
            test_error=math.nan,
            final_loss=math.nan,
            status=DIVERGED,
            epochs_completed=diverged_epoch - 1,
            diverged_epoch=diverged_epoch,
        )
    return ReplicaResult(
        seed=seed,
        train_error=last.train_error[replica],
        test_error=last.test_error[replica],
        final_loss=last.loss[replica],
        status=COMPLETED,
        epochs_completed=last.epoch,
    )


class Freezer:
    """Keeper of diverged replicas' parameters, held at their values when divergence was found."""

    def __init__(self, optimizer: SGD, replicas: int) -> None:
        self.optimizer = optimizer
        self.diverged_epoch: list[int | None] = [None] * replicas
        self.frozen: Tensor | None = None
        self.snapshots: list[Tensor] = []

    def freeze_diverged(self, stats: EpochStats) -> None:
        newly = [
            r
            for r, loss in enumerate(stats.loss)
            if self.diverged_epoch[r] is None and not math.isfinite(loss)
        ]
        if not newly:
            return
        for r in newly:
            self.diverged_epoch[r] = stats.epoch

        parameters = [parameter for parameter, _ in self.optimizer.params]
        device = parameters[0].device
        self.frozen = torch.tensor(
            [epoch is not None for epoch in self.diverged_epoch], device=device
        )
        self.snapshots = [parameter.clone() for parameter in parameters]

    def restore(self) -> None:
        """Put the frozen replicas' parameters back after an optimizer step."""
        if self.frozen is None:
            return
        for (parameter, _), snapshot in zip(self.optimizer.params, self.snapshots):
            mask = self.frozen.view(-1, *([1] * (parameter.dim() - 1)))
            parameter.copy_(torch.where(mask, snapshot, parameter))

    def all_frozen(self) -> bool:
        return all(epoch is not None for epoch in self.diverged_epoch)
