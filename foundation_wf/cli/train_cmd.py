"""``fwf train RECIPE.yaml [key=value ...]``: a VMC run (HF pretraining, VMC, evaluation)."""

from __future__ import annotations

import argparse

from foundation_wf.train.config import load_config
from foundation_wf.train.trainer import Trainer, format_results


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="VMC run on the geometries of a recipe's dataset",
        description="Hartree-Fock, supervised HF pretraining, variational optimization "
                    "(KFAC by default) and a final evaluation with reblocked error bars. "
                    "Writes config.yaml, metrics.jsonl/.csv, results.json and energy.png to "
                    "the recipe's output folder.",
        epilog="Overrides: dotted keys, values in YAML, e.g. "
               "'fwf train pretrain/he.yaml steps=200 optim.name=adam output=runs/x'.",
    )
    parser.add_argument("recipe", help="YAML recipe (see pretrain/ and finetune/)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="override recipe keys, e.g. walkers=512 optim.learning_rate=0.02")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.recipe, args.overrides)
    trainer = Trainer(config)
    trainer.run()
    print(format_results(trainer.results_table))
    print(f"run folder: {trainer.output}")
    return 0
