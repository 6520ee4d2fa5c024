"""Optimizer comparison: one single-geometry recipe trained with several optimizers, each at
several learning rates, with everything else (model, seed, walkers, step budget) equal.

Each trial is an ordinary run folder under ``output/<optimizer>_lr<rate>``; a finished trial
leaves ``trial.json`` (its result and resolved config) and is not run again while the config
is unchanged, so an interrupted comparison continues where it stopped. Unfinished trials, and
finished ones whose config changed in what a checkpoint allows (e.g. ``evaluation.steps``),
resume from their checkpoints: only the missing work is done.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
from typing import Mapping, Sequence

from foundation_wf.analysis.reuse import reuse_or_compute
from foundation_wf.data.io import load_geometries
from foundation_wf.data.records import GeometryRecord
from foundation_wf.train.config import RunConfig, config_to_dict
from foundation_wf.train.divergence import RunDiverged
from foundation_wf.train.plots import elapsed_seconds, vmc_rows
from foundation_wf.train.state import select_records
from foundation_wf.train.trainer import Trainer

FIRST_ORDER_RATES = (3e-3, 1e-2, 3e-2, 1e-1)
DEFAULT_RATES: dict[str, tuple[float, ...]] = {
    "kfac": (0.02, 0.05, 0.1, 0.2),
    "adam": FIRST_ORDER_RATES,
    "rmsprop": FIRST_ORDER_RATES,
    "sgd": FIRST_ORDER_RATES,
}


@dataclasses.dataclass(frozen=True)
class TrialResult:
    """One (optimizer, learning rate) run.

    Attributes:
      optimizer, learning_rate: what was trained.
      folder: its run folder.
      energy, error: final evaluated energy and reblocked standard error (Ha); NaN when the
        run diverged.
      optimization_time: wall-clock seconds of the optimizer steps (MCMC sweeps, energy,
        gradient, update; compilation of the first step included; HF pretraining, burn-in and
        evaluation, which are the same for every optimizer, excluded).
    """

    optimizer: str
    learning_rate: float
    folder: str
    energy: float
    error: float
    optimization_time: float

    @property
    def converged(self) -> bool:
        return math.isfinite(self.energy)


def trial_folder(output: pathlib.Path, optimizer: str, learning_rate: float) -> pathlib.Path:
    return output / f"{optimizer}_lr{learning_rate:g}"


def single_geometry(config: RunConfig) -> GeometryRecord:
    """The recipe's only geometry; an error if it selects more than one."""
    records = select_records(load_geometries(config.dataset), config.geometries)
    if len(records) != 1:
        raise ValueError(f"compare-optimizers needs a recipe with one geometry; "
                         f"{config.dataset!r} selects {len(records)} (set 'geometries')")
    return records[0]


def run_trial(config: RunConfig, optimizer: str, learning_rate: float,
              output: pathlib.Path) -> TrialResult:
    """Train and evaluate one trial (or read it back when it has finished before)."""
    folder = trial_folder(output, optimizer, learning_rate)
    trial_config = dataclasses.replace(
        config, output=str(folder),
        optim=dataclasses.replace(config.optim, name=optimizer, learning_rate=learning_rate),
        # A trial that diverges is a result of the comparison, not something to rescue.
        divergence=dataclasses.replace(config.divergence, retries=0))

    def train_and_evaluate() -> dict:
        trainer = Trainer(trial_config)
        try:
            stats = next(iter(trainer.run().values()))
            energy, error = stats.mean, stats.error
        except RunDiverged:
            energy, error = math.nan, math.nan
        rows = vmc_rows(folder / "metrics.jsonl", trainer.states[0].name)
        return dataclasses.asdict(TrialResult(
            optimizer=optimizer, learning_rate=learning_rate, folder=str(folder),
            energy=energy, error=error,
            optimization_time=round(float(elapsed_seconds(rows)[-1]), 1)))

    result = reuse_or_compute(folder / "trial.json", config_to_dict(trial_config),
                              train_and_evaluate)
    # JSON keeps NaN as null.
    return TrialResult(**{k: math.nan if v is None else v for k, v in result.items()})


def best_per_optimizer(results: Sequence[TrialResult]) -> dict[str, TrialResult]:
    """The lowest final energy of each optimizer (diverged trials only if nothing else)."""
    final = lambda r: r.energy if r.converged else math.inf  # noqa: E731
    return {name: min((r for r in results if r.optimizer == name), key=final)
            for name in dict.fromkeys(r.optimizer for r in results)}


def compare_optimizers(config: RunConfig, rates: Mapping[str, Sequence[float]],
                       output: pathlib.Path) -> list[TrialResult]:
    """Run every (optimizer, learning rate) trial of ``rates`` on the recipe's geometry."""
    single_geometry(config)  # refuse a multi-geometry recipe before any training
    for name, values in rates.items():
        if not values or any(v <= 0 for v in values):
            raise ValueError(f"learning rates of {name} must be positive, got {list(values)}")
    results = []
    for optimizer, values in rates.items():
        for learning_rate in values:
            print(f"--- {optimizer}, learning rate {learning_rate:g}")
            results.append(run_trial(config, optimizer, learning_rate, output))
    return results
