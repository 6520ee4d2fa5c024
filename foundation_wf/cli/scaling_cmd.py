"""``fwf scaling RECIPE.yaml --heldout DATASET``: zero-shot accuracy vs pretraining steps,
model preset and number of compounds."""

from __future__ import annotations

import argparse
import dataclasses
import pathlib

from foundation_wf import jsonfile
from foundation_wf.analysis.scaling import compounds_in_order, run_study
from foundation_wf.analysis.scaling_plot import plot_scaling
from foundation_wf.ansatz.presets import model_preset
from foundation_wf.cli.arguments import add_recipe_arguments
from foundation_wf.data.io import load_geometries
from foundation_wf.train.config import load_config
from foundation_wf.train.plots import write_csv
from foundation_wf.train.state import select_records


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "scaling", help="zero-shot error vs pretraining steps, model preset and compounds",
        description="Pretrain the recipe and evaluate it zero-shot on held-out geometries "
                    "at several step budgets (checkpoints of one run), with other model "
                    "presets and with fewer compounds (the first n of the recipe's, in "
                    "dataset order); presets and compound counts are trained for the "
                    "largest budget. Every point is evaluated the same way (fresh HF-sampled "
                    "walkers, the recipe's burn-in and evaluation sweeps, reblocked error "
                    "bars). Writes scaling.csv/.json and scaling.png (three panels) to "
                    "--output. Finished runs and evaluations are reused when the command is "
                    "repeated; an interrupted run resumes from its checkpoints.",
        epilog="e.g. fwf scaling pretrain/scaling.yaml --heldout hydrogen_chains_test "
               "--geometries H4_d1.400 H4_d1.800 H6_d1.800",
    )
    add_recipe_arguments(parser)
    parser.add_argument("--heldout", required=True,
                        help="dataset of held-out geometries (name, folder or .jsonl)")
    parser.add_argument("--geometries", nargs="+", default=None,
                        help="held-out geometries to evaluate (default: all)")
    parser.add_argument("--budgets", type=int, nargs="+", default=None,
                        help="optimizer-step budgets (default: steps/8, /4, /2 and steps of "
                             "the recipe)")
    parser.add_argument("--presets", nargs="+", default=["tiny", "small", "large"])
    parser.add_argument("--compounds", type=int, nargs="+", default=None,
                        help="numbers of compounds (default: 1, 2, ..., all)")
    parser.add_argument("--output", default=None,
                        help="study folder (default: the recipe's output); its runs are "
                             "subfolders")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.recipe, args.overrides)
    for preset in args.presets:
        model_preset(preset)
    select_records(load_geometries(args.heldout), args.geometries)  # bad names fail here
    budgets = args.budgets or sorted({max(1, config.steps // 8), max(1, config.steps // 4),
                                      max(1, config.steps // 2), config.steps})
    n_compounds = len(compounds_in_order(
        select_records(load_geometries(config.dataset), config.geometries)))
    counts = args.compounds or list(range(1, n_compounds + 1))
    output = pathlib.Path(args.output or config.output)
    points = run_study(config, output, budgets, args.presets, counts, args.heldout,
                       args.geometries)

    rows = [dataclasses.asdict(p) for p in points]
    write_csv(rows, output / "scaling.csv")
    jsonfile.write(output / "scaling.json", {"recipe": str(args.recipe),
                                             "heldout": args.heldout,
                                             "geometries": args.geometries, "points": rows})
    plot_scaling(points, f"{args.recipe}: zero-shot on {args.heldout}", output / "scaling.png")
    print(f"{'axis':<10} {'value':>8} {'step':>6} {'E/Ha':>12} {'E-E_ref/mHa':>12} "
          f"{'+-':>7}")
    for p in points:
        print(f"{p.axis:<10} {str(p.value):>8} {p.step:>6} {p.energy:>12.6f} "
              f"{p.error_vs_reference:>12.2f} {p.error_bar:>7.2f}")
    print(f"results: {output}/scaling.csv, plot: {output}/scaling.png")
    return 0
