"""The config: YAML round trip, --set overrides and --seed."""

from __future__ import annotations

import pytest
import yaml
from conftest import DISK_CONFIG, tiny_raw, write_yaml

from minidl.runner.config import ConfigError, config_to_yaml, load_config


def varied_raw() -> dict:
    """Return the tiny config with every section moved off its default value."""
    return tiny_raw(
        seed=11,
        dtype="float64",
        data={
            "generator": "disk",
            "train_size": 30,
            "test_size": 40,
            "normalise": False,
        },
        model=[
            {"type": "linear", "in_features": 2, "out_features": 5},
            {"type": "relu"},
            {"type": "linear", "in_features": 5, "out_features": 3},
            {"type": "sigmoid"},
            {"type": "linear", "in_features": 3, "out_features": 2},
        ],
        init={"weight": "xavier_normal", "bias": "zeros"},
        loss={"type": "cross_entropy"},
        optimizer={
            "type": "sgd",
            "lr": 0.25,
            "momentum": 0.75,
            "dampening": 0.0,
            "nesterov": True,
            "weight_decay": 1e-6,
        },
        training={"epochs": 3, "batch_size": 7, "shuffle": False},
    )


@pytest.mark.parametrize("source", ["disk", "varied"])
def test_round_trip(tmp_path, source):
    path = (
        DISK_CONFIG
        if source == "disk"
        else write_yaml(tmp_path / "in.yaml", varied_raw())
    )
    config = load_config(path)
    saved = tmp_path / "saved.yaml"
    saved.write_text(config_to_yaml(config), encoding="utf-8")
    assert load_config(saved) == config


def test_round_trip_keeps_values(tmp_path):
    raw = varied_raw()
    config = load_config(write_yaml(tmp_path / "in.yaml", raw))
    saved = tmp_path / "saved.yaml"
    saved.write_text(config_to_yaml(config), encoding="utf-8")
    again = load_config(saved)
    assert again.optimizer.nesterov is True
    assert again.optimizer.weight_decay == 1e-6
    assert again.model[1].type == "relu"
    assert again.data.normalise is False
    assert again.dtype == "float64"


def test_set_parses_yaml(tiny_path):
    config = load_config(
        tiny_path,
        [
            "optimizer.lr=0.125",
            "training.shuffle=false",
            "model.0.out_features=6",
            "model.2.in_features=6",
            "loss.type=cross_entropy",
        ],
    )
    assert config.optimizer.lr == 0.125
    assert config.training.shuffle is False
    assert config.model[0].out_features == 6
    assert config.model[2].in_features == 6
    assert config.loss.type == "cross_entropy"


def test_set_value_with_equals(tiny_path):
    # Only the first '=' separates the key from the value.
    with pytest.raises(ConfigError, match="loss.type"):
        load_config(tiny_path, ["loss.type=mse=1"])


def test_set_creates_nested(tmp_path):
    raw = tiny_raw()
    del raw["data"]
    path = write_yaml(tmp_path / "no_data.yaml", raw)
    config = load_config(path, ["data.train_size=50"])
    assert config.data.train_size == 50
    assert load_config(path).data.train_size != 50


def test_set_replaces_layer(tiny_path):
    config = load_config(tiny_path, ["model.1={type: relu}"])
    assert config.model[1].type == "relu"


@pytest.mark.parametrize(
    "override, key",
    [
        ("model.3.out_features=2", "model.3"),
        ("model.9={type: relu}", "model.9"),
        ("model.first.out_features=2", "model.first"),
        ("optimizer.lr.value=1", "optimizer.lr.value"),
    ],
)
def test_set_bad_path(tiny_path, override, key):
    with pytest.raises(ConfigError) as raised:
        load_config(tiny_path, [override])
    message = str(raised.value)
    assert key in message
    assert "\n" not in message


def test_set_repeated_last_wins(tiny_path):
    config = load_config(tiny_path, ["optimizer.lr=0.25", "optimizer.lr=0.125"])
    assert config.optimizer.lr == 0.125


def test_seed_overrides(tiny_path):
    assert load_config(tiny_path, seed=9).seed == 9
    assert load_config(tiny_path, ["seed=4"]).seed == 4
    assert load_config(tiny_path, ["seed=4"], seed=9).seed == 9


def test_file_unchanged(tiny_path):
    before = tiny_path.read_bytes()
    load_config(tiny_path, ["optimizer.lr=0.125"], seed=3)
    assert tiny_path.read_bytes() == before


@pytest.mark.parametrize("where", ["set", "file"])
def test_exponent_float(tmp_path, where):
    path = write_yaml(tmp_path / "c.yaml", tiny_raw())
    if where == "set":
        config = load_config(path, ["optimizer.lr=1e-3"])
    else:
        text = path.read_text(encoding="utf-8")
        assert "lr: 0.5\n" in text
        path.write_text(text.replace("lr: 0.5\n", "lr: 1e-3\n"), encoding="utf-8")
        config = load_config(path)
    assert config.optimizer.lr == 0.001


def test_duplicate_key_rejected(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(yaml.safe_dump(tiny_raw()) + "seed: 1\n", encoding="utf-8")

    with pytest.raises(ConfigError, match="duplicate key 'seed'"):
        load_config(path)


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1e400"])
def test_non_finite_lr_rejected(tiny_path, value):
    with pytest.raises(
        ConfigError,
        match=r"optimizer\.lr \(from --set\): input should be a finite number",
    ):
        load_config(tiny_path, [f"optimizer.lr={value}"])


def test_unknown_key_reported_before_missing(tmp_path):
    raw = tiny_raw()
    raw["optimizer"]["lrr"] = raw["optimizer"].pop("lr")
    path = write_yaml(tmp_path / "typo.yaml", raw)

    with pytest.raises(ConfigError) as error:
        load_config(path)

    message = str(error.value)
    assert "optimizer.lrr: unknown key" in message
    assert (
        "expected one of type, lr, momentum, dampening, nesterov, weight_decay"
        in message
    )
    assert "(and 1 more problem)" in message


def test_unknown_layer_key_lists_layer_keys(tiny_path):
    with pytest.raises(
        ConfigError,
        match="model.0.foo .from --set.: unknown key, expected one of type, in_features, out_features",
    ):
        load_config(tiny_path, ["model.0.foo=1"])


def test_error_in_file_has_no_set_mark(tmp_path):
    raw = tiny_raw()
    raw["optimizer"]["lr"] = -1.0
    path = write_yaml(tmp_path / "bad.yaml", raw)

    with pytest.raises(ConfigError) as error:
        load_config(path, ["training.epochs=3"])

    assert "optimizer.lr: input should be greater than 0" in str(error.value)
    assert "from --set" not in str(error.value)


def test_normalise_needs_two_points(tiny_path):
    with pytest.raises(ConfigError, match="normalise needs train_size >= 2"):
        load_config(tiny_path, ["data.train_size=1"])
