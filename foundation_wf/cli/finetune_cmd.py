"""``fwf finetune --checkpoint RUN RECIPE.yaml``: continue training pretrained weights on new
geometries, with fresh walkers and a fresh optimizer state."""

from __future__ import annotations

import argparse
import pathlib

import yaml

from foundation_wf.cli.arguments import add_recipe_arguments
from foundation_wf.train.checkpoint import CheckpointMismatch
from foundation_wf.train.config import ConfigError, RunConfig, apply_overrides, build
from foundation_wf.train.pretrained import Pretrained, load_pretrained
from foundation_wf.train.trainer import Trainer, format_results


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
    parser.add_argument("--checkpoint", required=True,
                        help="run folder or checkpoints folder of a pretraining run")
    parser.set_defaults(run=run)


def inherit(recipe: dict, pretrained: Pretrained) -> dict:
    """Model, precision and descriptor settings from the checkpoint; a recipe that sets one
    of them differently is refused, naming the field."""
    descriptors = {"basis": pretrained.settings.basis,
                   "elements": list(pretrained.settings.elements)}
    wanted = {"model": pretrained.preset, "precision": pretrained.precision,
              **{f"descriptors.{k}": v for k, v in descriptors.items()}}
    given = {"model": recipe.get("model"), "precision": recipe.get("precision"),
             **{f"descriptors.{k}": (recipe.get("descriptors") or {}).get(k)
                for k in descriptors}}
    for field, value in given.items():
        if value is not None and value != wanted[field]:
            raise CheckpointMismatch(f"checkpoint was made with {field}={wanted[field]!r}, "
                                     f"the recipe sets {value!r}")
    return {**recipe, "model": pretrained.preset, "precision": pretrained.precision,
            "descriptors": descriptors}


def run(args: argparse.Namespace) -> int:
    path = pathlib.Path(args.recipe)
    if not path.is_file():
        raise ConfigError(f"recipe {str(path)!r} not found")
    recipe = apply_overrides(yaml.safe_load(path.read_text()) or {}, args.overrides)
    pretrained = load_pretrained(args.checkpoint)
    config = build(RunConfig, inherit(recipe, pretrained))
    trainer = Trainer(config, initial_params=pretrained.params)
    trainer.run()
    if trainer.is_main:
        print(f"fine-tuned from {args.checkpoint} (step {pretrained.step})")
        print(format_results(trainer.results_table))
        print(f"run folder: {trainer.output}")
    return 0
