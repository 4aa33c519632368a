"""Turn a validated config into framework objects: data, model, loss and optimizer.

Each replica r owns one torch.Generator seeded with its run's seed, and draws from
it in a fixed order: training set, test set, initial weights layer by layer, then
one shuffle per epoch. So replica r of a batched run draws exactly what a single
run with that seed draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from minidl import (
    SGD,
    CrossEntropyLoss,
    Linear,
    MSELoss,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
    calculate_gain,
    disk,
    one_hot,
    standardize,
    xavier_normal_,
    xavier_uniform_,
)
from minidl.init import linear_default_
from minidl.module import Module
from minidl.runner.config import DATA_CLASSES, Config

ACTIVATIONS = {"tanh": Tanh, "relu": ReLU, "sigmoid": Sigmoid}
DATA_GENERATORS = {"disk": disk}


@dataclass
class Data:
    """Inputs (R, N, features) and integer labels (R, N) for R replicas."""

    train_inputs: Tensor
    train_labels: Tensor
    test_inputs: Tensor
    test_labels: Tensor
    classes: int
    evaluation_inputs: Tensor  # train then test inputs, (R, N_train + N_test, features)
    evaluation_labels: Tensor
    raw_test_inputs: Tensor  # test inputs before normalisation, kept on the CPU


def make_generators(seeds: list[int]) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(seed) for seed in seeds]


def make_data(config: Config, generators: list[torch.Generator]) -> Data:
    """Draw each replica's training and test sets, normalised by its own training set."""
    draw = DATA_GENERATORS[config.data.generator]
    dtype = config.torch_dtype()
    train_sets, test_sets = [], []
    for generator in generators:
        train_sets.append(draw(config.data.train_size, generator, dtype))
        test_sets.append(draw(config.data.test_size, generator, dtype))

    train_inputs = torch.stack([inputs for inputs, _ in train_sets])
    test_inputs = torch.stack([inputs for inputs, _ in test_sets])
    raw_test_inputs = test_inputs
    if config.data.normalise:
        train_inputs, test_inputs = standardize(train_inputs, test_inputs)

    device = config.device
    train_labels = torch.stack([labels for _, labels in train_sets])
    test_labels = torch.stack([labels for _, labels in test_sets])
    return Data(
        train_inputs=train_inputs.to(device),
        train_labels=train_labels.to(device),
        test_inputs=test_inputs.to(device),
        test_labels=test_labels.to(device),
        classes=DATA_CLASSES[config.data.generator],
        evaluation_inputs=torch.cat([train_inputs, test_inputs], -2).to(device),
        evaluation_labels=torch.cat([train_labels, test_labels], -1).to(device),
        raw_test_inputs=raw_test_inputs,
    )


def make_model(config: Config, generators: list[torch.Generator]) -> Sequential:
    """Build the layer stack with one replica per generator and initialise it."""
    replicas = len(generators)
    dtype = config.torch_dtype()
    # Linear's constructor draws torch.nn.Linear's default init; _initialise then
    # overwrites it. The throwaway generator keeps torch's global one untouched.
    discarded_init = torch.Generator().manual_seed(0)
    modules: list[Module] = []
    for layer in config.model:
        if layer.type == "linear":
            linear = Linear(
                layer.in_features,
                layer.out_features,
                replicas=replicas,
                dtype=dtype,
                generator=discarded_init,
                input_gradient=bool(modules),  # the first layer's input is data
            )
            modules.append(linear)
        else:
            modules.append(ACTIVATIONS[layer.type]())

    _initialise(config, modules, generators)
    return Sequential(*modules).to(config.device)


def _initialise(
    config: Config, modules: list[Module], generators: list[torch.Generator]
) -> None:
    """Initialise each replica's layers in order from that replica's generator.

    Xavier's gain follows the activation after each Linear ('linear' when none
    does). Weights are drawn in float64 and then cast, as the data is, so one
    seed starts float32 and float64 runs from the same weights up to rounding.
    """
    for replica, generator in enumerate(generators):
        for index, module in enumerate(modules):
            if not isinstance(module, Linear):
                continue
            weight = torch.empty(module.weight.shape[1:], dtype=torch.float64)
            bias = torch.zeros(module.bias.shape[1:], dtype=torch.float64)
            if config.init.weight == "default":
                linear_default_(weight, bias, generator)
            elif config.init.weight == "xavier_uniform":
                gain = calculate_gain(config.nonlinearity_after(index))
                xavier_uniform_(weight, gain, generator=generator)
            else:
                gain = calculate_gain(config.nonlinearity_after(index))
                xavier_normal_(weight, gain, generator=generator)

            module.weight[replica] = weight
            module.bias[replica] = bias


def make_loss(config: Config) -> MSELoss | CrossEntropyLoss:
    return MSELoss() if config.loss.type == "mse" else CrossEntropyLoss()


def make_targets(config: Config, labels: Tensor, classes: int) -> Tensor:
    """MSE regresses one-hot rows; cross-entropy takes the class indices themselves."""
    if config.loss.type == "mse":
        return one_hot(labels, classes, dtype=config.torch_dtype())
    return labels


def make_optimizer(config: Config, model: Module) -> SGD:
    options = config.optimizer
    return SGD(
        model.param(),
        lr=options.lr,
        momentum=options.momentum,
        dampening=options.dampening,
        nesterov=options.nesterov,
        weight_decay=options.weight_decay,
    )
