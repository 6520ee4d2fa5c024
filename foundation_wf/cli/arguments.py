"""Command-line arguments shared by the commands that read a run recipe."""

from __future__ import annotations

import argparse


def add_recipe_arguments(parser: argparse.ArgumentParser, recipes: str = "pretrain/") -> None:
    """Positional RECIPE.yaml and any number of KEY=VALUE overrides."""
    parser.add_argument("recipe", help=f"YAML recipe (see {recipes})")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="override recipe keys (dotted, values in YAML), e.g. walkers=512 "
                             "optim.learning_rate=0.02")


def add_checkpoint_argument(parser: argparse.ArgumentParser) -> None:
    """Required --checkpoint (and optional --step): the pretrained weights a command starts
    from."""
    parser.add_argument("--checkpoint", required=True,
                        help="run folder or checkpoints folder of a pretraining run, or the "
                             "name of a shipped model (see 'fwf model list'); its latest "
                             "checkpoint is used unless --step is given")
    parser.add_argument("--step", type=int, default=None,
                        help="use the checkpoint of this optimizer step instead of the latest")
