"""The experiment config: its schema, loading from YAML, and --set / --seed overrides.

Every field is validated before any work starts. A problem becomes a ConfigError
whose message is one line naming the file, the key path and the expected value.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import torch
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# The disk data set: two input features, two classes.
DATA_FEATURES = {"disk": 2}
DATA_CLASSES = {"disk": 2}


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, plus YAML 1.2's exponent floats without a dot (1e-3, 2E6).

    PyYAML follows YAML 1.1, which reads those as strings.
    """


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?[0-9]+[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _construct_mapping_without_duplicates(
    loader: _Loader, node: yaml.MappingNode, deep: bool = False
) -> dict:
    keys = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in keys:
            line = key_node.start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                problem=f"duplicate key {key!r} at line {line}",
                problem_mark=key_node.start_mark,
            )
        keys.add(key)
    return loader.construct_mapping(node, deep)


_Loader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping_without_duplicates,
)


def parse_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


class ConfigError(Exception):
    """An invalid config, option or file, reported as one line."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class DataConfig(_Section):
    generator: Literal["disk"] = "disk"
    train_size: int = Field(1000, ge=1)
    test_size: int = Field(1000, ge=1)
    normalise: bool = True

    @model_validator(mode="after")
    def _normalise_needs_two_points(self) -> DataConfig:
        if self.normalise and self.train_size < 2:
            raise ValueError(
                "normalise needs train_size >= 2 (a std of one point is undefined)"
            )
        return self


class LinearLayer(_Section):
    type: Literal["linear"]
    in_features: int = Field(ge=1)
    out_features: int = Field(ge=1)


class ActivationLayer(_Section):
    type: Literal["tanh", "relu", "sigmoid"]


Layer = Annotated[LinearLayer | ActivationLayer, Field(discriminator="type")]
LAYER_TYPES = ("linear", "tanh", "relu", "sigmoid")


class InitConfig(_Section):
    weight: Literal["xavier_uniform", "xavier_normal", "default"] = "xavier_uniform"
    bias: Literal["zeros", "default"] = "zeros"

    @model_validator(mode="after")
    def _default_is_whole_layer(self) -> InitConfig:
        if (self.weight == "default") != (self.bias == "default"):
            raise ValueError(
                "weight and bias must both be 'default' (torch.nn.Linear's init) or neither"
            )
        return self


class LossConfig(_Section):
    type: Literal["mse", "cross_entropy"] = "mse"


class OptimizerConfig(_Section):
    type: Literal["sgd"] = "sgd"
    lr: float = Field(gt=0)
    momentum: float = Field(0.0, ge=0, lt=1)
    dampening: float = Field(0.0, ge=0, le=1)
    nesterov: bool = False
    weight_decay: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> OptimizerConfig:
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError("nesterov requires momentum > 0 and dampening = 0")
        return self


class TrainingConfig(_Section):
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    shuffle: bool = True


class Config(_Section):
    seed: int = Field(0, ge=0)
    dtype: Literal["float32", "float64"] = "float32"
    device: str = Field("cpu", pattern=r"^(cpu|cuda(:\d+)?)$")
    data: DataConfig = DataConfig()
    model: list[Layer] = Field(min_length=1)
    init: InitConfig = InitConfig()
    loss: LossConfig = LossConfig()
    optimizer: OptimizerConfig
    training: TrainingConfig

    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

    def nonlinearity_after(self, index: int) -> str:
        """Name the activation after layer `index` for Xavier's gain: 'linear' when none follows."""
        following = self.model[index + 1] if index + 1 < len(self.model) else None
        if following is None or following.type == "linear":
            return "linear"
        return following.type


def load_config(
    path: str | Path, overrides: list[str] = (), seed: int | None = None
) -> Config:
    """Read, override and validate a config file; raise ConfigError on any problem."""
    path = Path(path)
    raw = _read_yaml(path)
    overridden = []
    for override in overrides:
        overridden.append(_apply_override(raw, override, path))
    if seed is not None:
        raw["seed"] = seed
        overridden.append("seed")
    return validate_config(raw, path, overridden)


def validate_config(
    raw: dict[str, Any], path: str | Path, overridden: list[str] = ()
) -> Config:
    """Validate a config mapping: the schema, then the checks that span sections.

    ``overridden`` lists the key paths set by --set or --seed; an error on one of
    them is marked as coming from the command line.
    """
    try:
        config = Config.model_validate(raw)
    except ValidationError as error:
        key, message = _describe(error)
        raise ConfigError(
            f"{path}: {key}{_origin(key, overridden)}: {message}"
        ) from None

    problem = _check_layers(config) or _check_device(config)
    if problem is not None:
        key, message = problem
        raise ConfigError(f"{path}: {key}{_origin(key, overridden)}: {message}")
    return config


def _origin(key: str, overridden: list[str]) -> str:
    """ " (from --set)" when the key, or a section holding it, was set on the command line."""
    for override in overridden:
        if (
            key == override
            or key.startswith(override + ".")
            or override.startswith(key + ".")
        ):
            return (
                " (from --set)"
                if override != "seed" or key != "seed"
                else " (from --seed)"
            )
    return ""


def config_to_yaml(config: Config) -> str:
    """Dump the resolved config as YAML; loading it back gives an equal config."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = parse_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "not valid YAML"
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the config file: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: expected a mapping of config sections at the top level"
        )
    return raw


def _apply_override(raw: dict[str, Any], override: str, path: Path) -> str:
    """Set one `key.path=value` override (the value parsed as YAML); return the key path."""
    key, separator, text = override.partition("=")
    if not separator or not key:
        raise ConfigError(f"--set {override!r}: expected key.path=value")
    try:
        value = parse_yaml(text)
    except yaml.YAMLError:
        raise ConfigError(f"--set {key}: value {text!r} is not valid YAML") from None

    parts = key.split(".")
    node: Any = raw
    for depth, part in enumerate(parts):
        where = ".".join(parts[: depth + 1])
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(
                    f"{path}: {where} (from --set): expected a list index below {len(node)}"
                )
            part = int(part)
        elif not isinstance(node, dict):
            raise ConfigError(f"{path}: {where} (from --set): parent is not a mapping")
        if last:
            node[part] = value
        else:
            if isinstance(node, dict) and part not in node:
                node[part] = {}
            node = node[part]
    return key


def _describe(error: ValidationError) -> tuple[str, str]:
    """Describe one validation error: its key path, and what is expected and given.

    Unknown keys come first, since a misspelt key also makes the intended one missing.
    """
    errors = sorted(error.errors(), key=lambda item: item["type"] != "extra_forbidden")
    first = errors[0]
    key = _key_path(first["loc"])
    more = len(errors) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""

    kind = first["type"]
    if kind == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(first["loc"][:-1]))
        return key, f"unknown key, expected one of {allowed}{suffix}"
    if kind == "missing":
        return key, f"missing required key{suffix}"
    if kind == "union_tag_invalid":
        tag = first["ctx"]["tag"]
        return (
            f"{key}.type",
            f"unknown layer type {tag!r}, expected one of {', '.join(LAYER_TYPES)}{suffix}",
        )
    if kind == "union_tag_not_found":
        return (
            f"{key}.type",
            f"missing layer type, expected one of {', '.join(LAYER_TYPES)}{suffix}",
        )
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return (
            key,
            f"expected a mapping of keys to values, got {first.get('input')!r}{suffix}",
        )

    message = first["msg"].removeprefix("Value error, ")
    message = message[0].lower() + message[1:]
    value = first.get("input")
    got = "" if isinstance(value, (dict, list)) else f", got {value!r}"
    return key, f"{message}{got}{suffix}"


def _allowed_keys(location: tuple[Any, ...]) -> list[str]:
    """Return the keys the schema accepts in the mapping at a pydantic location."""
    if location[:1] == ("model",):
        layer = LinearLayer if "linear" in location else ActivationLayer
        return list(layer.model_fields)

    section: type[BaseModel] = Config
    for part in location:
        annotation = section.model_fields[part].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        section = annotation
    return list(section.model_fields)


def _key_path(location: tuple[Any, ...]) -> str:
    """Join a pydantic location into a.b.0.c, dropping the union tags pydantic inserts."""
    parts = []
    for index, part in enumerate(location):
        after_index = index > 0 and isinstance(location[index - 1], int)
        if (
            after_index
            and isinstance(part, str)
            and part in ("LinearLayer", "ActivationLayer", *LAYER_TYPES)
        ):
            continue
        parts.append(str(part))
    return ".".join(parts) or "(top level)"


def _check_layers(config: Config) -> tuple[str, str] | None:
    """Layer sizes must chain, start at the data's features and end at its classes."""
    features = DATA_FEATURES[config.data.generator]
    classes = DATA_CLASSES[config.data.generator]
    linear = [
        (i, layer) for i, layer in enumerate(config.model) if layer.type == "linear"
    ]
    if not linear:
        return "model", "expected at least one linear layer"

    width = features
    for index, layer in linear:
        if layer.in_features != width:
            source = (
                "the data's input features"
                if index == linear[0][0]
                else "the previous linear layer's out_features"
            )
            return (
                f"model.{index}.in_features",
                f"expected {width} ({source}), got {layer.in_features}",
            )
        width = layer.out_features

    last_index = linear[-1][0]
    if width != classes:
        return (
            f"model.{last_index}.out_features",
            f"expected {classes} (the number of classes of the {config.data.generator} data), got {width}",
        )
    return None


def _check_device(config: Config) -> tuple[str, str] | None:
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        return (
            "device",
            f"{config.device!r} is not available on this machine, expected 'cpu'",
        )
    return None
