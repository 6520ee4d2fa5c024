"""``fwf pretrain RECIPE.yaml [key=value ...]`` (alias ``fwf train``): a VMC run over the
geometries of a dataset: HF pretraining, variational training, evaluation. Re-running it on a
run folder with checkpoints resumes from the last one."""

from __future__ import annotations

import argparse

from foundation_wf.cli.arguments import add_recipe_arguments
from foundation_wf.train.config import load_config
from foundation_wf.train.results import format_table
from foundation_wf.train.trainer import Trainer


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "pretrain", aliases=["train"],
        help="train one network across the geometries of a recipe's dataset",
        description="Hartree-Fock for every geometry, supervised HF pretraining, variational "
                    "optimization across geometries (KFAC by default; each step trains "
                    "scheduler.geometries_per_step geometries, default 1) and a final "
                    "evaluation with reblocked error bars. Writes "
                    "config.yaml, metrics.jsonl/.csv, results.json, energy.png and Orbax "
                    "checkpoints to the recipe's output folder; running again on that folder "
                    "resumes from its last checkpoint.",
        epilog="Overrides: dotted keys, values in YAML, e.g. 'fwf pretrain "
               "pretrain/hydrogen_chains.yaml steps=200 optim.name=adam output=runs/x'.",
    )
    add_recipe_arguments(parser, "pretrain/ and finetune/")
    parser.add_argument("--distributed", action="store_true",
                        help="multi-host: call jax.distributed.initialize() first (reads the "
                             "SLURM or coordinator environment); walkers are sharded over "
                             "the devices of all hosts")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.recipe, args.overrides)
    if args.distributed:
        import jax

        jax.distributed.initialize()
    trainer = Trainer(config)
    trainer.run()
    if trainer.is_main:
        print(format_table(trainer.results_table))
        print(f"run folder: {trainer.output}")
    return 0
