"""``fwf compare-finetune --checkpoint RUN RECIPE.yaml``: is the checkpoint worth it here?
Fine-tuning vs training from scratch at equal step budgets."""

from __future__ import annotations

import argparse
import dataclasses
import math
import pathlib
from typing import Sequence

from foundation_wf import jsonfile
from foundation_wf.analysis.finetune_plot import plot_finetune_vs_scratch
from foundation_wf.analysis.finetune_vs_scratch import (
    RUNS, BudgetEnergy, compare_finetune, default_budgets,
)
from foundation_wf.cli.arguments import add_checkpoint_argument, add_recipe_arguments
from foundation_wf.data.io import load_geometries
from foundation_wf.train.config import RunConfig, build, load_recipe
from foundation_wf.train.plots import write_csv
from foundation_wf.train.state import select_records


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare-finetune", help="fine-tune a checkpoint and train from scratch with the same "
                                 "recipe; energies at equal step budgets, table and plot",
        description="Run a fine-tuning recipe twice: from the checkpoint's weights (as 'fwf "
                    "finetune') and from a random initialization with --scratch-pretrain-steps "
                    "HF-pretraining steps and the undelayed learning-rate schedule; same "
                    "geometries, walkers, seed, optimizer and number of steps. The parameters "
                    "of both runs after each budget of optimizer steps are evaluated the same "
                    "way (fresh walkers, the recipe's burn-in and evaluation sweeps, reblocked "
                    "error bars). Writes comparison.csv/.json and comparison.png (energy vs "
                    "steps and vs wall time; the fine-tuned run is trained first and pays the "
                    "shared XLA compilation) to --output; finished runs and evaluations are "
                    "reused when the command is repeated.",
        epilog="e.g. fwf compare-finetune --checkpoint runs/hydrogen_chains finetune/h6.yaml",
    )
    add_recipe_arguments(parser, "finetune/")
    add_checkpoint_argument(parser)
    parser.add_argument("--budgets", type=int, nargs="+", default=None,
                        help="optimizer steps at which both runs are evaluated (default: 0, "
                             "every checkpoint.every steps of the recipe, and steps)")
    parser.add_argument("--scratch-pretrain-steps", type=int, default=1000,
                        help="HF-pretraining steps of the scratch run (default 1000)")
    parser.add_argument("--output", default=None,
                        help="comparison folder (default: the recipe's output + '_vs_scratch')")
    parser.set_defaults(run=run)


def comparison_rows(energies: Sequence[BudgetEnergy],
                    references: dict[str, float | None]) -> list[dict]:
    """One row per (geometry, budget): both energies, their difference (fine-tuned minus
    scratch, Ha) with its standard error, and each run's wall time."""
    by_key = {(e.run, e.geometry, e.step): e for e in energies}
    rows = []
    for geometry, step in dict.fromkeys((e.geometry, e.step) for e in energies):
        finetune, scratch = (by_key[(run, geometry, step)] for run in RUNS)
        rows.append({
            "geometry": geometry, "step": step,
            "finetune_energy": finetune.energy, "finetune_error": finetune.error,
            "scratch_energy": scratch.energy, "scratch_error": scratch.error,
            "difference": finetune.energy - scratch.energy,
            "difference_error": math.hypot(finetune.error, scratch.error),
            "finetune_wall_time": finetune.wall_time, "scratch_wall_time": scratch.wall_time,
            "reference": references.get(geometry),
        })
    return rows


def format_table(rows: Sequence[dict]) -> str:
    lines = [f"{'geometry':<16} {'steps':>5} {'E fine-tuned':>19} {'E scratch':>19} "
             f"{'ft-scratch/mHa':>15} {'t_ft/s':>7} {'t_scr/s':>7} {'ft-ref/mHa':>10}"]
    for r in rows:
        ref = r["reference"]
        to_ref = f"{1e3 * (r['finetune_energy'] - ref):10.2f}" if ref is not None else f"{'-':>10}"
        lines.append(
            f"{r['geometry']:<16} {r['step']:>5} "
            f"{r['finetune_energy']:>10.6f}({1e6 * r['finetune_error']:>6.0f}) "
            f"{r['scratch_energy']:>10.6f}({1e6 * r['scratch_error']:>6.0f}) "
            f"{1e3 * r['difference']:>8.2f}+-{1e3 * r['difference_error']:<5.2f} "
            f"{r['finetune_wall_time']:>7.0f} {r['scratch_wall_time']:>7.0f} {to_ref}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    recipe = load_recipe(args.recipe, args.overrides)
    plain = build(RunConfig, recipe)  # bad recipes are refused here, before any computation
    budgets = args.budgets or default_budgets(plain.steps, plain.checkpoint.every)
    output = pathlib.Path(args.output or f"{plain.output}_vs_scratch")
    energies = compare_finetune(recipe, args.checkpoint, output, budgets,
                                args.scratch_pretrain_steps)
    references = {r.name: r.reference_energy
                  for r in select_records(load_geometries(plain.dataset), plain.geometries)}
    rows = comparison_rows(energies, references)
    jsonfile.write(output / "comparison.json",
                   {"rows": rows, "energies": [dataclasses.asdict(e) for e in energies]})
    write_csv(rows, output / "comparison.csv")
    plot_finetune_vs_scratch(energies, {run: output / run for run in RUNS}, references,
                             output / "comparison.png")
    print(f"fine-tuned from {args.checkpoint} vs from scratch ({plain.walkers} walkers; "
          f"energies in Ha with their standard error in uHa)")
    print(format_table(rows))
    print(f"table: {output}/comparison.csv; plot: {output}/comparison.png")
    return 0
