"""``fwf evaluate --checkpoint RUN DATASET``: zero-shot energies of new geometries."""

from __future__ import annotations

import argparse
import pathlib

from foundation_wf.cli.arguments import add_checkpoint_argument
from foundation_wf.train.config import MIN_EVALUATION_STEPS
from foundation_wf.train.pretrained import load_pretrained, zero_shot_config
from foundation_wf.train.results import format_table
from foundation_wf.train.trainer import Trainer


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="zero-shot energies of a dataset with pretrained weights",
        description="Evaluate pretrained weights on every geometry of a dataset without any "
                    "parameter update: HF descriptors (cached), walkers sampled from HF and "
                    "burned in with the network, then evaluation sweeps; energies with "
                    "reblocked error bars, widened to the spread of the walkers' own "
                    "averages where that is larger (a walker stuck far out). MCMC settings "
                    "come from the checkpoint's run, with the nuclear proposal unless it set "
                    "another; with mcmc.proposal uniform, lithium and heavier atoms need "
                    "more burn-in and sweeps (e.g. 200 and 500). Writes "
                    "results.csv/.json and pes.png (energy vs scan coordinate with HF and "
                    "reference) to --output.",
    )
    parser.add_argument("dataset", help="dataset name under datasets/, folder or .jsonl file")
    add_checkpoint_argument(parser)
    parser.add_argument("--output", default=None,
                        help="result folder (default runs/evaluate_<dataset>)")
    parser.add_argument("--geometries", nargs="+", default=None, help="subset of geometries")
    parser.add_argument("--walkers", type=int, default=512)
    parser.add_argument("--burn-in", type=int, default=100, help="MCMC sweeps before measuring")
    parser.add_argument("--steps", type=int, default=100, help="evaluation sweeps per geometry")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.steps < MIN_EVALUATION_STEPS:
        raise ValueError(f"--steps must be >= {MIN_EVALUATION_STEPS} (evaluation sweeps, "
                         f"enough for an error bar), got {args.steps}")
    pretrained = load_pretrained(args.checkpoint, args.step)
    config = zero_shot_config(
        pretrained, args.dataset, args.output or f"runs/evaluate_{pathlib.Path(args.dataset).name}",
        args.walkers, args.burn_in, args.steps, args.geometries, args.seed)
    trainer = Trainer(config, initial_params=pretrained.params)
    trainer.zero_shot()
    print(f"zero-shot with {args.checkpoint} (step {pretrained.step})")
    print(format_table(trainer.results_table))
    print(f"results: {trainer.output}/results.csv, plot: {trainer.output}/pes.png")
    return 0
