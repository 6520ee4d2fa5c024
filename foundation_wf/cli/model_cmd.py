"""``fwf model info|list|export``: model presets and their parameter counts; the shipped
pretrained models."""

from __future__ import annotations

import argparse
import dataclasses

import jax

from foundation_wf.ansatz import PRESETS, geometry_input, make_ansatz, parameter_count
from foundation_wf.data.generators import hydrogen_chain
from foundation_wf.hf import DescriptorSettings, geometry_hf
from foundation_wf.train import shipped


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "model", help="model presets and parameter counts",
        description="Inspect the transferable ansatz. The parameter count depends only on "
                    "the preset, element set and basis, never on the molecule.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    info = actions.add_parser("info", help="hyperparameters and parameter count of presets")
    info.add_argument("--preset", choices=sorted(PRESETS), nargs="+", default=sorted(PRESETS))
    info.add_argument("--basis", default="sto-6g")
    info.add_argument("--elements", nargs="+", default=list(DescriptorSettings().elements))
    info.set_defaults(run=run_info)
    listing = actions.add_parser(
        "list", help="the shipped pretrained models and their headline results",
        description="One block per model in models/: what it was trained on, with how much "
                    "compute, and its measured results (details in models/<name>/README.md). "
                    "Use a model's name as --checkpoint of evaluate, finetune and "
                    "compare-finetune.")
    listing.set_defaults(run=run_list)
    export = actions.add_parser(
        "export", help="turn a run folder's checkpoint into a shipped model",
        description="Write models/NAME/: the run's parameters and meta (no optimizer state "
                    "or walkers) and card.json with its training figures. Add the headline "
                    "results to card.json and a README.md card once they are measured.")
    export.add_argument("run_folder", metavar="RUN", help="run folder of a pretraining run")
    export.add_argument("name", help="model name (lower-case letters, digits, _ and -)")
    export.add_argument("--description", required=True, help="one line: what the model is")
    export.add_argument("--step", type=int, default=None,
                        help="checkpoint step to export (default: the latest)")
    export.set_defaults(run=run_export)


def run_info(args: argparse.Namespace) -> int:
    settings = DescriptorSettings(basis=args.basis, elements=tuple(args.elements))
    probe = hydrogen_chain(2, 1.4)  # any molecule gives the same shapes
    geometry = geometry_input(probe, geometry_hf(probe, settings), settings)
    print(f"element set: {' '.join(settings.elements)}; basis {settings.basis}; "
          f"descriptor features: {settings.layout.n_features}")
    for name in args.preset:
        ansatz = make_ansatz(name, settings)
        shapes = jax.eval_shape(ansatz.init, jax.random.PRNGKey(0), geometry)
        fields = ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(ansatz.config).items())
        print(f"{name:>6}: {parameter_count(shapes):>9,d} parameters  ({fields})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    cards = shipped.shipped_cards()
    if not cards:
        print(f"no shipped models in {shipped.MODELS_DIR}")
    for card in cards:
        print(f"{card.name}: {card.description}")
        print(f"  trained on {card.dataset} ({', '.join(card.compounds)}); {card.preset} preset, "
              f"{card.parameters:,d} parameters; {card.step:,d} steps, "
              f"{card.walker_steps:,d} walker-steps, {card.wall_time_min:g} min on {card.machine}")
        for key, value in card.headline.items():
            print(f"  {key}: {value}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    folder = shipped.export(args.run_folder, args.name, args.description, args.step)
    print(f"exported {args.run_folder} to {folder}; add headline results to {folder}/card.json "
          f"and write {folder}/README.md")
    return 0
