"""Fine-tuning a pretrained checkpoint vs training the same model from scratch, compared at
equal optimizer-step budgets.

Both runs follow one recipe: geometries, walkers, seed, MCMC, optimizer and number of steps.
They differ only where a from-scratch run must: the fine-tuned run starts from the
checkpoint's weights with the recipe's schedule offset and HF-pretraining steps; the scratch
run starts from a random initialization, is HF-pretrained for ``scratch_pretrain_steps`` steps
and uses the undelayed schedule (offset 0).

Each run keeps a checkpoint at every budget; the parameters at each budget are then evaluated
the same way for both (walkers sampled from HF, burn-in, ``evaluation.steps`` sweeps, reblocked
error bars), so energies at equal steps are compared with error bars instead of through noisy
training energies. Finished runs and evaluations are reused when the command is repeated.

Layout: ``output/<run>/`` is an ordinary run folder, ``output/<run>/evaluation/step_<k>/`` the
evaluation of its parameters after k steps, for run in ``RUNS``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
from typing import Sequence

from foundation_wf.analysis.reuse import reuse_or_compute
from foundation_wf.train.checkpoint import CheckpointMismatch
from foundation_wf.train.config import (
    CheckpointConfig, ConfigError, EvaluationConfig, RunConfig, build, config_to_dict,
)
from foundation_wf.train.plots import elapsed_seconds, read_metrics
from foundation_wf.train.pretrained import Pretrained, inherit, load_pretrained
from foundation_wf.train.trainer import Trainer

RUNS = ("finetune", "scratch")


@dataclasses.dataclass(frozen=True)
class BudgetEnergy:
    """The energy of one run's parameters after ``step`` optimizer steps.

    Attributes:
      run: "finetune" or "scratch".
      step: optimizer steps taken (0: the starting weights, after any HF pretraining).
      geometry: geometry name.
      energy, error: evaluated energy and its reblocked standard error (Ha).
      wall_time: seconds the run had spent on reaching this step: HF pretraining, burn-in and
        optimizer steps including compilation (Hartree-Fock itself excluded), read from the
        metrics log to within ``log_every`` steps. The fine-tuned run is trained first and
        pays the compilation both runs share, so the comparison of times favours scratch.
    """

    run: str
    step: int
    geometry: str
    energy: float
    error: float
    wall_time: float


def default_budgets(steps: int, every: int) -> list[int]:
    """0, every multiple of ``every`` below ``steps``, and ``steps``."""
    return sorted({0, steps, *range(every, steps, every)})


def check_budgets(budgets: Sequence[int], steps: int) -> list[int]:
    """Sorted distinct budgets; an error naming a budget outside 0..steps."""
    for budget in budgets:
        if not 0 <= budget <= steps:
            raise ConfigError(f"budget {budget} is outside 0..steps={steps}")
    if not budgets:
        raise ConfigError("give at least one budget")
    return sorted(set(budgets))


def paired_configs(base: RunConfig, output: pathlib.Path, budgets: Sequence[int],
                   scratch_pretrain_steps: int) -> dict[str, RunConfig]:
    """The fine-tuning and the scratch run of the recipe ``base`` (see the module docstring);
    both checkpoint at every budget and keep all those checkpoints, and neither evaluates at
    the end (the budgets are evaluated separately)."""
    budgets = check_budgets(budgets, base.steps)
    if scratch_pretrain_steps < 0:
        raise ConfigError(f"scratch HF-pretraining steps must be >= 0, got {scratch_pretrain_steps}")
    every = math.gcd(*budgets) or base.steps or 1
    common = dataclasses.replace(
        base, evaluation=EvaluationConfig(steps=0),
        checkpoint=CheckpointConfig(every=every, keep=base.steps // every + 2))
    return {
        "finetune": dataclasses.replace(common, output=str(output / "finetune")),
        "scratch": dataclasses.replace(
            common, output=str(output / "scratch"),
            pretrain=dataclasses.replace(base.pretrain, steps=scratch_pretrain_steps),
            optim=dataclasses.replace(base.optim, schedule_offset=0)),
    }


def train(config: RunConfig, initial: Pretrained | None, origin: str | None) -> None:
    """Run (or resume) one of the pair from ``initial`` (None: random), whose checkpoint is
    named by ``origin``; a finished run with the same config is not touched again. A folder
    started from another origin is refused (resuming it would continue the wrong run)."""
    stamp = pathlib.Path(config.output) / "origin.json"
    started_from = json.loads(stamp.read_text()) if stamp.exists() else origin
    if started_from != origin:
        raise CheckpointMismatch(
            f"{config.output!r} was started from {started_from!r}, not {origin!r}; use "
            "another --output or remove that folder")
    if not stamp.exists():
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps(origin))

    def run() -> dict:
        Trainer(config, initial_params=initial.params if initial else None).run()
        return {}

    reuse_or_compute(stamp.parent / "trained.json", config_to_dict(config), run)


def evaluate_at(config: RunConfig, step: int, evaluation: EvaluationConfig,
                burn_in: int, heldout: tuple[str, tuple[str, ...] | None] | None = None
                ) -> dict[str, dict]:
    """{geometry: {energy, error}} of the run's parameters after ``step`` steps, from fresh
    walkers (HF samples, ``burn_in`` sweeps) and ``evaluation.steps`` sweeps, on the run's
    own geometries or on ``heldout`` = (dataset, geometry names or None for all)."""
    dataset, geometries = heldout or (config.dataset, config.geometries)
    folder = (pathlib.Path(config.output) / ("heldout" if heldout else "evaluation")
              / f"step_{step}")
    evaluation_config = dataclasses.replace(
        config, dataset=dataset, geometries=geometries, output=str(folder), steps=0,
        evaluation=evaluation,
        pretrain=dataclasses.replace(config.pretrain, steps=0),
        mcmc=dataclasses.replace(config.mcmc, burn_in=burn_in), checkpoint=CheckpointConfig())

    def evaluate() -> dict:
        weights = load_pretrained(config.output, step)
        results = Trainer(evaluation_config, initial_params=weights.params).zero_shot()
        return {name: {"energy": s.mean, "error": s.error} for name, s in results.items()}

    return reuse_or_compute(folder / "evaluation.json",
                            {"evaluation": config_to_dict(evaluation_config),
                             "trained": config_to_dict(config), "step": step}, evaluate)


def wall_time_at(rows: list[dict], step: int) -> float:
    """Seconds the run with metrics ``rows`` had spent when ``step`` optimizer steps were
    done (0: when the first optimizer step began), from the start of its first phase and
    summed over restarts."""
    if not rows:
        return 0.0
    elapsed = rows[0]["wall_time"] + elapsed_seconds(rows)
    done = [i for i, r in enumerate(rows)
            if r.get("phase") != "vmc" or r["step"] <= step - 1]
    return float(elapsed[done[-1]]) if done else 0.0


def compare_finetune(recipe: dict, checkpoint: str, output: pathlib.Path,
                     budgets: Sequence[int], scratch_pretrain_steps: int) -> list[BudgetEnergy]:
    """Train both runs and evaluate each at every budget (see the module docstring)."""
    pretrained = load_pretrained(checkpoint)
    base = build(RunConfig, inherit(recipe, pretrained))
    budgets = check_budgets(budgets, base.steps)
    configs = paired_configs(base, output, budgets, scratch_pretrain_steps)
    origin = f"{pretrained.folder.resolve()}@{pretrained.step}"
    energies = []
    for name in RUNS:
        config = configs[name]
        print(f"--- {name}: {config.output}")
        train(config, pretrained if name == "finetune" else None,
              origin if name == "finetune" else None)
        metrics = read_metrics(pathlib.Path(config.output) / "metrics.jsonl")
        for step in budgets:
            print(f"--- {name}: evaluating the parameters after {step} steps")
            wall_time = wall_time_at(metrics, step)
            for geometry, value in evaluate_at(config, step, base.evaluation,
                                               base.mcmc.burn_in).items():
                energies.append(BudgetEnergy(run=name, step=step, geometry=geometry,
                                             energy=value["energy"], error=value["error"],
                                             wall_time=round(wall_time, 3)))
    return energies
