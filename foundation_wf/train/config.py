"""Typed run configuration loaded from YAML recipes, overridable as KEY=VALUE.

Unknown keys and ill-typed values are errors that name the key, raised before any work.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import types
import typing
from typing import Any, Sequence

import jax
import numpy as np
import yaml

from foundation_wf.ansatz.presets import ModelConfig, model_preset
from foundation_wf.hf.settings import DescriptorSettings
from foundation_wf.train.config_checks import (
    ConfigError, require_at_least, require_between_0_and_1, require_one_of, require_positive,
)
from foundation_wf.train.divergence import DivergenceConfig
from foundation_wf.train.scheduler import POLICIES
from foundation_wf.vmc.hamiltonian import LAPLACIANS
from foundation_wf.vmc.mcmc import PROPOSALS
from foundation_wf.vmc.optimizers import OptimizerConfig

# Fewest evaluation sweeps that give a standard error (reblocking needs a few points).
MIN_EVALUATION_STEPS = 4
PRECISIONS = ("float32", "float64")


def use_precision(precision: str) -> np.dtype:
    """The floating-point dtype of a ``precision`` setting (float32 or float64); float64
    first switches JAX to 64-bit (process-wide, as JAX requires)."""
    require_one_of(PRECISIONS, precision=precision)
    if precision == "float64":
        jax.config.update("jax_enable_x64", True)
    return np.dtype(precision)


@dataclasses.dataclass(frozen=True)
class MCMCConfig:
    """steps_per_update: MH moves between optimizer steps; burn_in: sweeps of steps_per_update
    moves before training; initial_step_size (bohr; for the "nuclear" proposal, the width of
    an electron within 1 bohr of a proton); target_acceptance; proposal: "uniform" (one
    width for all electrons) or "nuclear" (each electron's width scaled by the length scale
    of the nuclei around it, ``vmc.mcmc.nuclear_length_scales``)."""

    steps_per_update: int = 10
    burn_in: int = 100
    initial_step_size: float = 0.3
    target_acceptance: float = 0.5
    proposal: str = "nuclear"

    def __post_init__(self):
        require_at_least(1, steps_per_update=self.steps_per_update)
        require_at_least(0, burn_in=self.burn_in)
        require_positive(initial_step_size=self.initial_step_size)
        require_between_0_and_1(target_acceptance=self.target_acceptance)
        require_one_of(PROPOSALS, proposal=self.proposal)


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    """Supervised HF pretraining: steps (per geometry, round robin), Adam learning_rate."""

    steps: int = 200
    learning_rate: float = 3e-3

    def __post_init__(self):
        require_at_least(0, steps=self.steps)
        require_positive(learning_rate=self.learning_rate)


@dataclasses.dataclass(frozen=True)
class EvaluationConfig:
    """steps: MCMC sweeps without parameter updates at the end, for the final energies
    (0 = no evaluation; otherwise at least MIN_EVALUATION_STEPS, enough for an error bar)."""

    steps: int = 200

    def __post_init__(self):
        if self.steps != 0:
            require_at_least(MIN_EVALUATION_STEPS, steps=self.steps)


@dataclasses.dataclass(frozen=True)
class CheckpointConfig:
    """every: optimizer steps between Orbax checkpoints; keep: how many to keep."""

    every: int = 100
    keep: int = 3

    def __post_init__(self):
        require_at_least(1, every=self.every, keep=self.keep)


@dataclasses.dataclass(frozen=True)
class SchedulerConfig:
    """Which geometries each optimizer step trains (see ``train.scheduler``).

    policy: fair (every compound, and every geometry of a compound, gets an equal share of
      the geometry-steps) or spread (the geometry with the largest local-energy spread
      first).
    max_age: spread policy only: a geometry not trained for this many steps goes next
      (default 3 x number of geometries).
    geometries_per_step: geometries of one compound trained together in each optimizer
      step (fewer where the compound has fewer): their walkers are stacked into one batch
      and the loss is the mean of their energies.
    compound_weights: fair policy only: relative shares of the geometry-steps by compound
      name, e.g. {Li2: 2} gives Li2 twice the share of each other compound (default 1).
    """

    policy: str = "fair"
    max_age: int | None = None
    geometries_per_step: int = 1
    compound_weights: dict[str, float] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        require_one_of(POLICIES, policy=self.policy)
        if self.max_age is not None:
            require_at_least(1, max_age=self.max_age)
        require_at_least(1, geometries_per_step=self.geometries_per_step)
        require_positive(**{f"compound_weights.{name}": weight
                            for name, weight in self.compound_weights.items()})
        if self.compound_weights and self.policy != "fair":
            raise ConfigError("compound_weights: only the fair policy takes compound weights")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """A VMC run over the geometries of a dataset (one geometry is a dataset of one).

    Attributes:
      dataset: dataset name under datasets/, folder or .jsonl file.
      geometries: names of the geometries to use (default: all).
      output: run folder (config, metrics, plots, checkpoints).
      seed: the single source of randomness.
      precision: float32 (default) or float64.
      model: model preset name (tiny, small, large), or a mapping of ``ModelConfig``
        fields (its defaults are the small preset's), as fine-tuning and evaluation
        runs take it from their checkpoint.
      walkers: MCMC walkers per geometry (the batch size).
      steps: variational optimizer steps (in total, over all geometries).
      clip_scale: local-energy clipping half-width in mean absolute deviations.
      laplacian: forward (folx) or loop.
      local_energy_chunk: walkers per chunk in the local energy (0 = all at once; default:
        by electron count, ``vmc.loss.local_energy_chunk_for``: 32 for 6 electrons, 8 for 10).
      log_every: steps between metric lines (per geometry: each logs every log_every-th
        of its own steps).
      descriptors: basis, element set, localization and orbital signs of the HF
        descriptors (``hf.settings.DescriptorSettings``).
    """

    dataset: str
    geometries: tuple[str, ...] | None = None
    output: str = "runs/run"
    seed: int = 0
    precision: str = "float32"
    model: str | ModelConfig = "small"
    walkers: int = 1024
    steps: int = 1000
    clip_scale: float = 5.0
    laplacian: str = "forward"
    local_energy_chunk: int | None = None
    log_every: int = 10
    descriptors: DescriptorSettings = DescriptorSettings()
    mcmc: MCMCConfig = MCMCConfig()
    pretrain: PretrainConfig = PretrainConfig()
    optim: OptimizerConfig = OptimizerConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    divergence: DivergenceConfig = DivergenceConfig()

    def __post_init__(self):
        if isinstance(self.model, str):
            model_preset(self.model)  # an unknown name fails here, naming the presets
        require_one_of(PRECISIONS, precision=self.precision)
        require_one_of(LAPLACIANS, laplacian=self.laplacian)
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"seed must be an integer in [0, 2**63), got {self.seed}")
        require_at_least(1, walkers=self.walkers, log_every=self.log_every)
        require_at_least(0, steps=self.steps, local_energy_chunk=self.local_energy_chunk or 0)
        require_positive(clip_scale=self.clip_scale)


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
                errors.append((option, str(error)))
        # A mapping meant the dataclass option: its error names the bad key.
        meant = [message for option, message in errors
                 if dataclasses.is_dataclass(option) == isinstance(value, dict)]
        raise ConfigError((meant or [message for _, message in errors])[0])
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return build(annotation, value, prefix=f"{key}.")
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        key_type, value_type = typing.get_args(annotation)
        return {_coerce(k, key_type, f"{key} key"): _coerce(v, value_type, f"{key}.{k}")
                for k, v in value.items()}
    if origin is tuple:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        item = typing.get_args(annotation)[0]
        return tuple(_coerce(v, item, key) for v in value)
    if annotation is float:
        return _as_float(value, key)
    if annotation in (int, str, bool) and type(value) is annotation:
        return value
    raise ConfigError(f"{key} must be {getattr(annotation, '__name__', annotation)}, "
                      f"got {value!r}")


def _as_float(value: Any, key: str) -> float:
    """A finite float from a number or a numeric string (YAML 1.1 reads 3e-3 as a string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(f"{key} must be float, got {value!r}")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise ConfigError(f"{key} must be float, got {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{key} must be a finite number, got {value!r}")
    return number


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
    except ValueError as error:  # from __post_init__: its messages start with the key
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
        try:
            node[leaf] = yaml.safe_load(raw)
        except yaml.YAMLError as error:
            raise ConfigError(f"override {override!r}: invalid YAML value "
                              f"({getattr(error, 'problem', error)})") from None
    return data


def load_recipe(path: str | pathlib.Path, overrides: Sequence[str] = ()) -> dict:
    """A YAML recipe as a dict, with 'key=value' overrides applied (not yet validated)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ConfigError(f"recipe {str(path)!r} not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not a UTF-8 text file (byte {error.start})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}:{where}: invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe must be a YAML mapping")
    return apply_overrides(data, overrides)


def load_config(path: str | pathlib.Path, overrides: Sequence[str] = ()) -> RunConfig:
    """The validated RunConfig of a recipe; errors name the recipe file and the key."""
    data = load_recipe(path, overrides)
    try:
        return build(RunConfig, data)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def config_to_dict(config) -> dict:
    """Plain nested dict (tuples as lists), for YAML/JSON output."""
    def plain(value):
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value
    return plain(dataclasses.asdict(config))
