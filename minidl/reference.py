"""The same experiment in plain PyTorch: torch.nn, torch.nn.init, autograd, torch.optim.

This module is the yardstick minidl is compared and timed against, so it is
written the way a PyTorch user would write it, and it is the only module of the
package allowed to use torch.nn, autograd and torch.optim. It takes a validated
runner Config; data comes from the same disk generator as minidl's runs.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from minidl.data import disk, one_hot, standardize
from minidl.linear import Linear
from minidl.runner.config import DATA_CLASSES, Config

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid}


@dataclass
class ReferenceData:
    train_inputs: Tensor
    train_labels: Tensor
    test_inputs: Tensor
    test_labels: Tensor


@dataclass
class ReferenceResult:
    seed: int
    train_error: float
    test_error: float
    final_loss: float
    seconds: float
    status: str


def make_reference_data(config: Config, generator: torch.Generator) -> ReferenceData:
    dtype = getattr(torch, config.dtype)
    train_inputs, train_labels = disk(config.data.train_size, generator, dtype)
    test_inputs, test_labels = disk(config.data.test_size, generator, dtype)
    if config.data.normalise:
        train_inputs, test_inputs = standardize(train_inputs, test_inputs)
    device = config.device
    return ReferenceData(
        train_inputs.to(device),
        train_labels.to(device),
        test_inputs.to(device),
        test_labels.to(device),
    )


def make_reference_model(
    config: Config, generator: torch.Generator | None = None
) -> nn.Sequential:
    """nn.Sequential of the config's layers, initialised with torch.nn.init."""
    dtype = getattr(torch, config.dtype)
    layers: list[nn.Module] = []
    for index, layer in enumerate(config.model):
        if layer.type != "linear":
            layers.append(ACTIVATIONS[layer.type]())
            continue
        linear = nn.Linear(layer.in_features, layer.out_features, dtype=dtype)
        _initialise(config, index, linear, generator)
        layers.append(linear)
    return nn.Sequential(*layers).to(config.device)


def _initialise(
    config: Config, index: int, linear: nn.Linear, generator: torch.Generator | None
) -> None:
    with torch.no_grad():
        if config.init.weight == "default":
            nn.init.kaiming_uniform_(linear.weight, a=5**0.5, generator=generator)
            bound = 1 / linear.in_features**0.5
            nn.init.uniform_(linear.bias, -bound, bound, generator=generator)
            return

        gain = nn.init.calculate_gain(config.nonlinearity_after(index))
        if config.init.weight == "xavier_uniform":
            nn.init.xavier_uniform_(linear.weight, gain=gain, generator=generator)
        else:
            nn.init.xavier_normal_(linear.weight, gain=gain, generator=generator)
        nn.init.zeros_(linear.bias)


def make_reference_loss(config: Config) -> nn.Module:
    return nn.MSELoss() if config.loss.type == "mse" else nn.CrossEntropyLoss()


def make_reference_targets(config: Config, labels: Tensor) -> Tensor:
    if config.loss.type == "mse":
        return one_hot(
            labels, DATA_CLASSES[config.data.generator], getattr(torch, config.dtype)
        )
    return labels


def make_reference_optimizer(config: Config, model: nn.Module) -> torch.optim.SGD:
    options = config.optimizer
    return torch.optim.SGD(
        model.parameters(),
        lr=options.lr,
        momentum=options.momentum,
        dampening=options.dampening,
        nesterov=options.nesterov,
        weight_decay=options.weight_decay,
    )


def copy_minidl_weights(
    model, reference: nn.Sequential
) -> list[tuple[str, Tensor, Tensor]]:
    """Copy replica 0 of a minidl model's Linear layers into the matching reference layers.

    Returns (name, minidl tensor, reference parameter) triples, named as in the
    reference's state_dict ("2.weight"), for comparing the two later.
    """
    pairs = []
    with torch.no_grad():
        for index, module in enumerate(model.modules):
            if not isinstance(module, Linear):
                continue
            for name in ("weight", "bias"):
                ours = getattr(module, name)[0]
                theirs = getattr(reference[index], name)
                theirs.copy_(ours)
                pairs.append((f"{index}.{name}", ours, theirs))
    return pairs


def reference_step(
    model: nn.Module,
    loss_function: nn.Module,
    optimizer: torch.optim.SGD,
    inputs: Tensor,
    targets: Tensor,
) -> float:
    """One autograd SGD step on a minibatch; returns the loss before the step."""
    loss = loss_function(model(inputs), targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


@torch.no_grad()
def reference_error_rate(model: nn.Module, inputs: Tensor, labels: Tensor) -> float:
    predictions = model(inputs).argmax(-1)
    return (predictions != labels).sum().item() / labels.numel()


def train_reference(config: Config, seed: int) -> ReferenceResult:
    """Train the config's model once with torch.nn and autograd, as a PyTorch user would.

    The generator seeded with ``seed`` draws the data, the initial weights and
    each epoch's shuffle, in minidl's order, but through torch's own functions.
    """
    started = time.perf_counter()
    generator = torch.Generator().manual_seed(seed)
    data = make_reference_data(config, generator)
    model = make_reference_model(config, generator)
    loss_function = make_reference_loss(config)
    optimizer = make_reference_optimizer(config, model)
    targets = make_reference_targets(config, data.train_labels)

    size, batch_size = config.data.train_size, config.training.batch_size
    loss_sum = torch.zeros(
        (), dtype=data.train_inputs.dtype, device=data.train_inputs.device
    )
    for _ in range(config.training.epochs):
        order = (
            torch.randperm(size, generator=generator)
            if config.training.shuffle
            else torch.arange(size)
        )
        order = order.to(data.train_inputs.device)
        inputs, epoch_targets = data.train_inputs[order], targets[order]
        loss_sum = loss_sum.zero_()
        for start in range(0, size, batch_size):
            batch_inputs = inputs[start : start + batch_size]
            loss = loss_function(
                model(batch_inputs), epoch_targets[start : start + batch_size]
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * batch_inputs.shape[0]

    final_loss = (loss_sum / size).item()
    status = "completed" if math.isfinite(final_loss) else "diverged"
    return ReferenceResult(
        seed=seed,
        train_error=reference_error_rate(model, data.train_inputs, data.train_labels),
        test_error=reference_error_rate(model, data.test_inputs, data.test_labels),
        final_loss=final_loss,
        seconds=time.perf_counter() - started,
        status=status,
    )
