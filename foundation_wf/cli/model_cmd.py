"""``fwf model info``: model presets and their parameter counts."""

from __future__ import annotations

import argparse
import dataclasses

import jax

from foundation_wf.ansatz import PRESETS, geometry_input, make_ansatz, parameter_count
from foundation_wf.data.generators import hydrogen_chain
from foundation_wf.hf import DescriptorSettings, geometry_hf


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
