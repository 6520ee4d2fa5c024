"""Scaling study: zero-shot accuracy on a held-out set as a function of (a) pretraining
steps, (b) model preset and (c) the number of compounds in the pretraining data.

One recipe is the base run. (a) evaluates the base run's checkpoints at each budget;
(b) trains the recipe with each other preset; (c) trains it on the first n compounds of
its geometries (in dataset order). (b) and (c) use the largest budget, so every point of
(b) and (c) has the same number of optimizer steps. Every point is evaluated the same way
on the held-out geometries: fresh HF-sampled walkers, the recipe's burn-in and evaluation
sweeps, reblocked error bars.

Layout: ``output/<run>/`` is an ordinary run folder (``steps``, ``preset_<name>``,
``compounds_<n>``), ``output/<run>/heldout/step_<k>/`` an evaluation. Finished runs and
evaluations are reused when the command is repeated; an interrupted run resumes from its
checkpoints.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
from typing import Sequence

import numpy as np

from foundation_wf.analysis.finetune_vs_scratch import check_budgets, evaluate_at, train
from foundation_wf.data.io import load_geometries
from foundation_wf.data.records import GeometryRecord
from foundation_wf.train.config import CheckpointConfig, ConfigError, EvaluationConfig, RunConfig
from foundation_wf.train.state import select_records

AXES = ("steps", "preset", "compounds")


@dataclasses.dataclass(frozen=True)
class ScalingPoint:
    """One point of the study.

    Attributes:
      axis: "steps", "preset" or "compounds".
      value: the budget (steps), the preset name, or the number of compounds.
      run: the run folder name under the study's output.
      step: the optimizer step of the evaluated parameters.
      energy: mean zero-shot energy over the held-out geometries (Ha).
      error_vs_reference: mean of E - E_ref over the held-out geometries with a reference
        (mHa), NaN when none has one.
      error_bar: standard error of that mean, or of ``energy`` without references (mHa).
      geometries: held-out geometries evaluated.
    """

    axis: str
    value: int | str
    run: str
    step: int
    energy: float
    error_vs_reference: float
    error_bar: float
    geometries: int


def compounds_in_order(records: Sequence[GeometryRecord]) -> list[str]:
    """The compounds of ``records``, in the order they first appear."""
    return list(dict.fromkeys(r.compound for r in records))


def study_configs(base: RunConfig, output: pathlib.Path, budgets: Sequence[int],
                  presets: Sequence[str], compound_counts: Sequence[int]
                  ) -> dict[str, RunConfig]:
    """Run configs by folder name: "steps" (the base, checkpointed at every budget),
    "preset_<p>" for presets other than the base's, "compounds_<n>" for counts below all."""
    budgets = check_budgets(budgets, max(budgets))
    if min(budgets) < 1:
        raise ConfigError("scaling budgets must be >= 1 optimizer step")
    every = math.gcd(*budgets)
    steps = max(budgets)
    common = dataclasses.replace(base, steps=steps, evaluation=EvaluationConfig(steps=0),
                                 checkpoint=CheckpointConfig(every=every,
                                                             keep=steps // every + 1))
    configs = {"steps": dataclasses.replace(common, output=str(output / "steps"))}
    for preset in presets:
        if preset != base.model:
            configs[f"preset_{preset}"] = dataclasses.replace(
                common, model=preset, output=str(output / f"preset_{preset}"))
    records = select_records(load_geometries(base.dataset), base.geometries)
    compounds = compounds_in_order(records)
    for count in compound_counts:
        if not 1 <= count <= len(compounds):
            raise ConfigError(f"compound count {count} is outside 1..{len(compounds)} (the "
                              f"recipe's compounds: {', '.join(compounds)})")
        if count < len(compounds):
            chosen = set(compounds[:count])
            configs[f"compounds_{count}"] = dataclasses.replace(
                common, output=str(output / f"compounds_{count}"),
                geometries=tuple(r.name for r in records if r.compound in chosen))
    return configs


def summarise(axis: str, value, run: str, step: int, energies: dict[str, dict],
              references: dict[str, float | None]) -> ScalingPoint:
    """Mean energy and mean error vs reference (mHa) with standard errors."""
    names = sorted(energies)
    energy = np.array([energies[n]["energy"] for n in names], dtype=float)
    error = np.array([energies[n]["error"] for n in names], dtype=float)
    with_reference = [i for i, n in enumerate(names) if references.get(n) is not None]
    if with_reference:
        difference = np.array([energy[i] - references[names[i]] for i in with_reference])
        mean_difference = 1e3 * float(difference.mean())
        bar = 1e3 * float(np.sqrt(np.sum(error[with_reference] ** 2)) / len(with_reference))
    else:
        mean_difference = math.nan
        bar = 1e3 * float(np.sqrt(np.sum(error**2)) / len(names))
    return ScalingPoint(axis=axis, value=value, run=run, step=step,
                        energy=float(energy.mean()), error_vs_reference=mean_difference,
                        error_bar=bar, geometries=len(names))


def run_study(base: RunConfig, output: pathlib.Path, budgets: Sequence[int],
              presets: Sequence[str], compound_counts: Sequence[int], heldout: str,
              heldout_geometries: Sequence[str] | None) -> list[ScalingPoint]:
    """Train (or reuse) every run of the study and evaluate every point on the held-out
    geometries; returns the points of the three axes."""
    selected = select_records(load_geometries(heldout), heldout_geometries)
    references = {r.name: r.reference_energy for r in selected}
    target = (heldout, tuple(heldout_geometries) if heldout_geometries else None)
    configs = study_configs(base, output, budgets, presets, compound_counts)
    steps = max(budgets)
    n_compounds = len(compounds_in_order(
        select_records(load_geometries(base.dataset), base.geometries)))

    def point(axis, value, run, step):
        config = configs[run]
        print(f"--- {axis}={value}: {config.output}, parameters after {step} steps")
        train(config, None, None)
        energies = evaluate_at(config, step, base.evaluation, base.mcmc.burn_in, target)
        return summarise(axis, value, run, step, energies, references)

    points = [point("steps", budget, "steps", budget) for budget in sorted(set(budgets))]
    points += [point("preset", preset, "steps" if preset == base.model else f"preset_{preset}",
                     steps) for preset in presets]
    points += [point("compounds", count,
                     "steps" if count == n_compounds else f"compounds_{count}", steps)
               for count in sorted(set(compound_counts))]
    return points
