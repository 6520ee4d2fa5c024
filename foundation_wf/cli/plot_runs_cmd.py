"""``fwf plot-runs RUN RUN ... --geometry NAME``: energy curves of several runs compared."""

from __future__ import annotations

import argparse
import pathlib

from foundation_wf.train.plots import plot_runs


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "plot-runs", help="compare energy vs step of one geometry across run folders",
        description="Plot the training energy of one geometry in several run folders (e.g. "
                    "fine-tuned vs trained from scratch) and print their final energies.",
    )
    parser.add_argument("runs", nargs="+", help="run folders")
    parser.add_argument("--geometry", required=True, help="geometry name")
    parser.add_argument("--reference", type=float, default=None, help="reference energy, Ha")
    parser.add_argument("--output", default="runs/compare.png", help="PNG file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    folders = [pathlib.Path(r) for r in args.runs]
    for folder in folders:
        if not (folder / "metrics.jsonl").exists():
            raise FileNotFoundError(f"{str(folder)!r} is not a run folder (no metrics.jsonl)")
    finals = plot_runs(folders, args.geometry, pathlib.Path(args.output), args.reference)
    for name, energy in finals.items():
        difference = "" if args.reference is None else \
            f"  ({1e3 * (energy - args.reference):+.2f} mHa vs reference)"
        print(f"{name:<30} {energy:.6f} Ha{difference}")
    print(f"plot: {args.output}")
    return 0
