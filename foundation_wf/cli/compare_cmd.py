"""``fwf compare-optimizers RECIPE.yaml``: KFAC vs Adam/RMSProp/SGD with learning-rate sweeps."""

from __future__ import annotations

import argparse
import dataclasses
import pathlib

from foundation_wf import jsonfile
from foundation_wf.analysis.compare import (
    DEFAULT_RATES, TrialResult, best_per_optimizer, compare_optimizers, single_geometry,
)
from foundation_wf.cli.arguments import add_recipe_arguments
from foundation_wf.train.config import load_config
from foundation_wf.train.plots import plot_runs, write_csv


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare-optimizers", help="train one system with each optimizer and a learning-rate "
                                   "sweep; table and energy-vs-step/time plot of the best runs",
        description="Train the recipe's single geometry with every optimizer at every "
                    "learning rate of its sweep (same model, seed, walkers, HF pretraining and "
                    "step budget), keep the lowest final energy of each optimizer, and write "
                    "comparison.csv/.json (all trials) and comparison.png (running median of "
                    "the energy vs step and vs wall time, reference dashed) to --output. "
                    "Finished trials are not re-run when the command is repeated.",
        epilog="Example: fwf compare-optimizers pretrain/he_optimizers.yaml "
               "--rates adam=0.003,0.01 --rates kfac=0.05",
    )
    add_recipe_arguments(parser, "pretrain/he_optimizers.yaml; one geometry")
    parser.add_argument("--optimizers", nargs="+", default=list(DEFAULT_RATES),
                        choices=list(DEFAULT_RATES), help="optimizers to compare (default: all)")
    parser.add_argument("--rates", action="append", default=[], metavar="OPT=LR,LR,...",
                        help="learning rates of one optimizer (repeatable); defaults: " +
                        "; ".join(f"{k} {','.join(f'{v:g}' for v in vs)}"
                                  for k, vs in DEFAULT_RATES.items()))
    parser.add_argument("--output", default=None,
                        help="comparison folder (default: the recipe's output + '_optimizers')")
    parser.add_argument("--window", type=int, default=50,
                        help="running-median window of the plot, in optimizer steps")
    parser.set_defaults(run=run)


def parse_rates(optimizers: list[str], specs: list[str]) -> dict[str, tuple[float, ...]]:
    """{optimizer: learning rates} from the defaults and 'opt=lr,lr' overrides."""
    rates = {name: DEFAULT_RATES[name] for name in optimizers}
    for spec in specs:
        name, _, values = spec.partition("=")
        if name not in rates or not values:
            raise ValueError(f"--rates {spec!r}: expected OPT=LR,LR with OPT one of {optimizers}")
        try:
            rates[name] = tuple(float(v) for v in values.split(","))
        except ValueError:
            raise ValueError(f"--rates {spec!r}: learning rates must be numbers") from None
    return rates


def format_table(best: dict[str, TrialResult], reference: float | None) -> str:
    lines = [f"{'optimizer':<9} {'best lr':>8} {'E (Ha)':>12} {'error':>9} "
             f"{'E-E_ref/mHa':>12} {'optimizer time/s':>17}"]
    for result in sorted(best.values(), key=lambda r: (not r.converged, r.energy)):
        diff = (f"{1e3 * (result.energy - reference):12.2f}" if reference is not None
                and result.converged else f"{'-':>12}")
        lines.append(f"{result.optimizer:<9} {result.learning_rate:>8g} {result.energy:>12.6f} "
                     f"{result.error:>9.6f} {diff} {result.optimization_time:>17.0f}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.recipe, [*args.overrides, "log_every=1"])
    rates = parse_rates(args.optimizers, args.rates)
    record = single_geometry(config)
    geometry, reference = record.name, record.reference_energy
    output = pathlib.Path(args.output or f"{config.output}_optimizers")
    output.mkdir(parents=True, exist_ok=True)
    results = compare_optimizers(config, rates, output)
    best = best_per_optimizer(results)
    rows = [{**dataclasses.asdict(r), "best": best[r.optimizer] is r,
             "difference": r.energy - reference if reference is not None else None}
            for r in results]
    jsonfile.write(output / "comparison.json", rows)
    write_csv(rows, output / "comparison.csv")
    ordered = sorted(best.values(), key=lambda r: r.optimizer)
    plot_runs([pathlib.Path(r.folder) for r in ordered], geometry, output / "comparison.png",
              reference, window=args.window,
              labels=[f"{r.optimizer} lr={r.learning_rate:g}" for r in ordered])
    print(f"{geometry}: best learning rate of each optimizer, {config.steps} steps, "
          f"{config.walkers} walkers")
    print(format_table(best, reference))
    print(f"all trials: {output}/comparison.csv; plot: {output}/comparison.png")
    return 0
