"""Typed run configuration loaded from YAML recipes, overridable as KEY=VALUE.

Unknown keys and ill-typed values are errors that name the key, raised before any work.
"""

from __future__ import annotations

import dataclasses
import pathlib
import types
import typing
from typing import Any, Sequence

import yaml

from foundation_wf.vmc.optimizers import OptimizerConfig


class ConfigError(ValueError):
    """A recipe or override that does not fit the configuration schema."""


@dataclasses.dataclass(frozen=True)
class DescriptorConfig:
    """basis: PySCF basis; elements: the model's element set."""

    basis: str = "sto-6g"
    elements: tuple[str, ...] = ("H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne")


@dataclasses.dataclass(frozen=True)
class MCMCConfig:
    """steps_per_update: MH moves between optimizer steps; burn_in: sweeps of steps_per_update
    moves before training; initial_step_size (bohr); target_acceptance."""

    steps_per_update: int = 10
    burn_in: int = 100
    initial_step_size: float = 0.3
    target_acceptance: float = 0.5


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    """Supervised HF pretraining: steps (per geometry, round robin), Adam learning_rate."""

    steps: int = 200
    learning_rate: float = 3e-3


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """steps: MCMC sweeps without parameter updates at the end, for the final energies."""

    steps: int = 200


@dataclasses.dataclass(frozen=True)
class CheckpointConfig:
    """every: optimizer steps between Orbax checkpoints; keep: how many to keep."""

    every: int = 100
    keep: int = 3


@dataclasses.dataclass(frozen=True)
class SchedulerConfig:
    """Which geometry each optimizer step trains (see ``train.scheduler``).

    policy: fair (every compound, and every geometry of a compound, gets an equal share of
      the steps) or spread (the geometry with the largest local-energy spread first).
    max_age: spread policy only: a geometry not trained for this many steps goes next
      (default 3 x number of geometries).
    """

    policy: str = "fair"
    max_age: int | None = None


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """A VMC run over the geometries of a dataset (one geometry is a dataset of one).

    Attributes:
      dataset: dataset name under datasets/, folder or .jsonl file.
      geometries: names of the geometries to use (default: all).
      output: run folder (config, metrics, plots, checkpoints).
      seed: the single source of randomness.
      precision: float32 (default) or float64.
      model: model preset name (tiny, small, large).
      walkers: MCMC walkers per geometry (the batch size).
      steps: variational optimizer steps (in total, over all geometries).
      clip_scale: local-energy clipping half-width in mean absolute deviations.
      laplacian: forward (folx) or loop.
      local_energy_chunk: walkers per chunk in the local energy (0 = all at once).
      log_every: steps between metric lines.
    """

    dataset: str
    geometries: tuple[str, ...] | None = None
    output: str = "runs/run"
    seed: int = 0
    precision: str = "float32"
    model: str = "small"
    walkers: int = 1024
    steps: int = 1000
    clip_scale: float = 5.0
    laplacian: str = "forward"
    local_energy_chunk: int = 32
    log_every: int = 10
    descriptors: DescriptorConfig = DescriptorConfig()
    mcmc: MCMCConfig = MCMCConfig()
    pretrain: PretrainConfig = PretrainConfig()
    optim: OptimizerConfig = OptimizerConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    scheduler: SchedulerConfig = SchedulerConfig()

    def __post_init__(self):
        if self.precision not in ("float32", "float64"):
            raise ConfigError(f"precision must be float32 or float64, got {self.precision!r}")
        for key, value in (("walkers", self.walkers), ("log_every", self.log_every),
                           ("checkpoint.every", self.checkpoint.every),
                           ("checkpoint.keep", self.checkpoint.keep)):
            if value < 1:
                raise ConfigError(f"{key} must be >= 1, got {value}")
        if self.steps < 0:
            raise ConfigError(f"steps must be >= 0, got {self.steps}")


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0])
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return build(annotation, value, prefix=f"{key}.")
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        item = typing.get_args(annotation)[0]
        return tuple(_coerce(v, item, key) for v in value)
    if annotation is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, str, bool) and type(value) is annotation:
        return value
    raise ConfigError(f"{key} must be {getattr(annotation, '__name__', annotation)}, "
                      f"got {value!r}")


def build(cls, data: dict, prefix: str = ""):
    """Instantiate dataclass ``cls`` from a nested dict, naming unknown or bad keys."""
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ConfigError(f"unknown config key {prefix}{unknown[0]} "
                          f"(valid: {', '.join(sorted(fields))})")
    values = {name: _coerce(v, hints[name], prefix + name) for name, v in data.items()}
    try:
        return cls(**values)
    except TypeError as error:
        raise ConfigError(f"{prefix or 'config'}: {error}") from None
    except ValueError as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(f"{prefix}{error}") from None


def apply_overrides(data: dict, overrides: Sequence[str]) -> dict:
    """Set dotted keys from 'a.b=value' strings (values parsed as YAML)."""
    data = yaml.safe_load(yaml.safe_dump(data)) or {}
    for override in overrides:
        if "=" not in override:
            raise ConfigError(f"override {override!r} must look like key=value")
        dotted, raw = override.split("=", 1)
        *parents, leaf = dotted.strip().split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"cannot set {dotted}: {part} is not a mapping")
        node[leaf] = yaml.safe_load(raw)
    return data


def load_recipe(path: str | pathlib.Path, overrides: Sequence[str] = ()) -> dict:
    """A YAML recipe as a dict, with 'key=value' overrides applied (not yet validated)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ConfigError(f"recipe {str(path)!r} not found")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe must be a YAML mapping")
    return apply_overrides(data, overrides)


def load_config(path: str | pathlib.Path, overrides: Sequence[str] = ()) -> RunConfig:
    return build(RunConfig, load_recipe(path, overrides))


def config_to_dict(config) -> dict:
    """Plain nested dict (tuples as lists), for YAML/JSON output."""
    def plain(value):
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value
    return plain(dataclasses.asdict(config))
