"""The training loop: it learns, it matches torch, replicas stay apart, runs are recorded."""

from __future__ import annotations

import math

import pytest
import torch
from checks import max_abs_diff
from conftest import DISK_CONFIG, read_history, read_metrics, tiny_raw

from minidl import Linear
from minidl.reference import train_reference
from minidl.runner.build import make_data, make_generators, make_model
from minidl.runner.config import load_config, validate_config
from minidl.runner.experiment import run_train
from minidl.runner.training import train

# Both sides run the same float64 operations in the same order, so only a reordered sum
# may differ. Over 5 epochs of 10 steps the measured gap is below 1e-16.
FLOAT64_ATOL = 1e-10


def tiny(**sections):
    return validate_config(tiny_raw(**sections), "tiny.yaml")


def tiny64(**sections):
    return tiny(dtype="float64", **sections)


def optimizer(**options):
    base = {"type": "sgd", "lr": 0.5, "momentum": 0.0, "dampening": 0.0}
    return {**base, "nesterov": False, "weight_decay": 0.0, **options}


def test_disk_learns():
    result = train(load_config(DISK_CONFIG), [0])
    replica = result.replicas[0]
    assert replica.status == "completed"
    assert replica.test_error < 0.06


def test_history_length():
    config = tiny()
    result = train(config, [0])
    assert [stats.epoch for stats in result.history] == [1, 2, 3, 4, 5]
    assert result.replicas[0].epochs_completed == config.training.epochs


def test_no_grad():
    seen = []

    def look(stats):
        seen.append((torch.is_grad_enabled(), torch.is_inference_mode_enabled()))

    result = train(tiny(), [0], look)
    assert seen == [(False, True)] * 5
    for parameter, gradient in result.model.param():
        assert not parameter.requires_grad
        assert torch.is_inference(parameter)
        assert not gradient.requires_grad


def plain_forward(config, result, replica, inputs):
    """Apply replica's trained network to (N, 2) inputs with plain torch operations."""
    activations = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}
    output = inputs
    for spec, module in zip(config.model, result.model.modules):
        if spec.type == "linear":
            assert isinstance(module, Linear)
            weight, bias = module.weight[replica], module.bias[replica]
            output = output @ weight.T + bias
        else:
            output = activations[spec.type](output)
    return output


def plain_error(outputs, labels):
    wrong = sum(int(row.argmax()) != int(label) for row, label in zip(outputs, labels))
    return wrong / len(labels)


def test_error_rate():
    config = tiny64()
    seeds = [0, 1]
    result = train(config, seeds)
    data = result.data
    for r, replica in enumerate(result.replicas):
        train_outputs = plain_forward(config, result, r, data.train_inputs[r])
        test_outputs = plain_forward(config, result, r, data.test_inputs[r])
        assert replica.train_error == plain_error(train_outputs, data.train_labels[r])
        assert replica.test_error == plain_error(test_outputs, data.test_labels[r])
    # A trained model that predicts one class everywhere would make this check weak.
    assert 0 < result.replicas[0].test_error < 0.45


REFERENCE_CASES = {
    "tiny": {},
    "nesterov": {"optimizer": optimizer(momentum=0.9, nesterov=True)},
    "damped": {
        "optimizer": optimizer(lr=0.25, momentum=0.5, dampening=0.5, weight_decay=0.01)
    },
    "cross_entropy": {
        "loss": {"type": "cross_entropy"},
        "model": [
            {"type": "linear", "in_features": 2, "out_features": 6},
            {"type": "relu"},
            {"type": "linear", "in_features": 6, "out_features": 4},
            {"type": "sigmoid"},
            {"type": "linear", "in_features": 4, "out_features": 2},
        ],
    },
    "default_init": {"init": {"weight": "default", "bias": "default"}},
    "xavier_normal": {"init": {"weight": "xavier_normal", "bias": "zeros"}},
    "no_shuffle": {"training": {"epochs": 5, "batch_size": 30, "shuffle": False}},
    "raw_inputs": {
        "data": {
            "generator": "disk",
            "train_size": 200,
            "test_size": 200,
            "normalise": False,
        }
    },
}


@pytest.mark.parametrize("case", list(REFERENCE_CASES))
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_reference(case, seed):
    config = tiny64(**REFERENCE_CASES[case])
    ours = train(config, [seed]).replicas[0]
    reference = train_reference(config, seed)
    assert ours.status == reference.status == "completed"
    assert abs(ours.final_loss - reference.final_loss) <= FLOAT64_ATOL
    assert ours.train_error == reference.train_error
    assert ours.test_error == reference.test_error


def test_batched_equals_single():
    config = tiny64()
    seeds = [3, 4, 5]
    together = train(config, seeds)
    for r, seed in enumerate(seeds):
        alone = train(config, [seed])
        single, batched = alone.replicas[0], together.replicas[r]
        assert batched.seed == seed
        assert batched.train_error == single.train_error
        assert batched.test_error == single.test_error
        assert abs(batched.final_loss - single.final_loss) <= FLOAT64_ATOL
        pairs = zip(together.model.param(), alone.model.param())
        for (batched_parameter, _), (single_parameter, _) in pairs:
            assert (
                max_abs_diff(batched_parameter[r], single_parameter[0]) <= FLOAT64_ATOL
            )


def test_batched_seeds_differ():
    result = train(tiny64(), [3, 4])
    first, second = result.replicas
    assert first.final_loss != second.final_loss
    weight = result.model.modules[0].weight
    assert not torch.equal(weight[0], weight[1])


def test_batched_divergence():
    # At lr 1.2 some seeds diverge and others do not. A diverged replica must not
    # disturb the others.
    config = tiny(optimizer=optimizer(lr=1.2))
    alone = {seed: train(config, [seed]).replicas[0] for seed in range(4)}
    statuses = {replica.status for replica in alone.values()}
    assert statuses == {"completed", "diverged"}, "lr 1.2 no longer splits the seeds"

    together = train(config, list(range(4)))
    for seed, replica in enumerate(together.replicas):
        single = alone[seed]
        assert replica.status == single.status
        assert replica.diverged_epoch == single.diverged_epoch
        if single.status == "completed":
            assert replica.final_loss == single.final_loss
            assert replica.test_error == single.test_error
        else:
            assert math.isnan(replica.final_loss)


class StopAt:
    """An on_epoch callback that records each epoch and raises at one of them."""

    def __init__(self, epoch, error):
        self.epoch = epoch
        self.error = error
        self.seen = []

    def __call__(self, stats):
        self.seen.append(stats)
        if stats.epoch == self.epoch:
            raise self.error


@pytest.mark.parametrize(
    "error, status",
    [(KeyboardInterrupt(), "interrupted"), (RuntimeError("boom"), "failed")],
    ids=["interrupt", "error"],
)
def test_run_stopped(tmp_path, error, status):
    config = tiny(training={"epochs": 8, "batch_size": 20, "shuffle": True})
    stop = StopAt(3, error)
    with pytest.raises(type(error)):
        run_train(config, "tiny.yaml", tmp_path / "runs", on_epoch=stop)

    (run_dir,) = (tmp_path / "runs").iterdir()
    rows = read_history(run_dir)
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3]
    for row, stats in zip(rows, stop.seen):
        assert float(row["loss"]) == stats.loss[0]
        assert float(row["test_error"]) == stats.test_error[0]
    metrics = read_metrics(run_dir)
    assert metrics["status"] == status
    assert metrics["epochs_completed"] == 3
    assert load_config(run_dir / "config.yaml") == config


def test_run_completed(tmp_path):
    config = tiny()
    run = run_train(config, "tiny.yaml", tmp_path)
    alone = train(config, [config.seed]).replicas[0]
    metrics = read_metrics(run.run_dir)
    assert metrics["status"] == "completed"
    assert metrics["final_loss"] == alone.final_loss
    assert metrics["test_error"] == alone.test_error
    assert len(read_history(run.run_dir)) == config.training.epochs


def test_dtypes_start_from_same_weights():
    weights = {}
    for dtype in ("float32", "float64"):
        generators = make_generators([4])
        config = tiny(dtype=dtype)
        make_data(config, generators)
        model = make_model(config, generators)
        weights[dtype] = [
            module.weight for module in model.modules if isinstance(module, Linear)
        ]

    for single, double in zip(weights["float32"], weights["float64"]):
        assert single.dtype == torch.float32
        assert torch.equal(single, double.float())


def test_training_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(tiny(), [0, 1])

    assert torch.equal(torch.rand(3), expected)
