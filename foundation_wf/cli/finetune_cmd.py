"""``fwf finetune --checkpoint RUN RECIPE.yaml``: continue training pretrained weights on new
geometries, with fresh walkers and a fresh optimizer state."""

from __future__ import annotations

import argparse

from foundation_wf.cli.arguments import add_checkpoint_argument, add_recipe_arguments
from foundation_wf.train.config import RunConfig, build, load_recipe
from foundation_wf.train.pretrained import inherit, load_pretrained
from foundation_wf.train.results import format_table
from foundation_wf.train.trainer import Trainer


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "finetune", help="fine-tune pretrained weights on a recipe's geometries",
        description="Start from pretrained weights: recompute descriptors for the target "
                    "geometries, fresh walkers and optimizer state, the recipe's (smaller) "
                    "learning rate; train one or several geometries jointly; Orbax checkpoints "
                    "and resume as in pretraining; final evaluation as in 'fwf evaluate'. "
                    "Model preset, descriptor settings and precision come from the checkpoint.",
        epilog="e.g. fwf finetune --checkpoint runs/hydrogen_chains finetune/h6.yaml steps=200",
    )
    add_recipe_arguments(parser, "finetune/")
    add_checkpoint_argument(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    recipe = load_recipe(args.recipe, args.overrides)
    pretrained = load_pretrained(args.checkpoint, args.step)
    config = build(RunConfig, inherit(recipe, pretrained))
    trainer = Trainer(config, initial_params=pretrained.params)
    trainer.run()
    if trainer.is_main:
        print(f"fine-tuned from {args.checkpoint} (step {pretrained.step})")
        print(format_table(trainer.results_table))
        print(f"run folder: {trainer.output}")
    return 0
