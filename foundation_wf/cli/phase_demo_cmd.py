"""``fwf phase-demo``: does the phase equivariance matter? HF fits across a rotating water
molecule whose Foster-Boys orbitals flip sign, with and without the symmetrisation."""

from __future__ import annotations

import argparse
import dataclasses
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from foundation_wf import jsonfile
from foundation_wf.analysis.phase_demo import (
    fit_across_rotation, hf_functions, hf_walkers, loss_ratio_at_flips, rotated_water,
    sign_flips,
)
from foundation_wf.analysis.phase_demo_plot import plot_phase_demo
from foundation_wf.ansatz import make_ansatz
from foundation_wf.ansatz.presets import model_preset
from foundation_wf.hf import DescriptorSettings
from foundation_wf.train.plots import write_csv
from foundation_wf.train.state import build_states


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "phase-demo", help="HF fits across a rotating water: phase-equivariant vs baseline",
        description="Rotate water through 0-180 degrees; compute HF with the localizer's "
                    "own orbital signs (descriptors.orbital_signs=raw), so that orbitals "
                    "flip sign along the way; detect the flips from the descriptors; then "
                    "fit the network orbitals to the HF orbitals across all angles (Adam, "
                    "round robin) with the phase-equivariant ansatz and with the baseline "
                    "that feeds the descriptors without the odd/even symmetrisation; as a "
                    "control, the baseline once more on descriptors with canonical signs "
                    "(no flips). Same samples, initial weights and steps for all three. "
                    "Writes phase_demo.csv "
                    "(angle, flip, final loss of each), phase_demo.json (flips, loss ratios) "
                    "and phase_demo.png.",
    )
    parser.add_argument("--angles", type=int, default=37,
                        help="number of angles from 0 to 180 degrees (default 37: 5-degree "
                             "steps)")
    parser.add_argument("--steps", type=int, default=4000, help="fit steps per variant")
    parser.add_argument("--walkers", type=int, default=128)
    parser.add_argument("--burn-in", type=int, default=50, help="HF sampling sweeps")
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--preset", default="small", help="model preset (fwf model info)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="runs/phase_demo", help="result folder")
    parser.set_defaults(run=run)


def check_arguments(args: argparse.Namespace) -> None:
    for name, minimum in (("angles", 3), ("steps", 1), ("walkers", 1), ("burn_in", 0)):
        if getattr(args, name) < minimum:
            raise ValueError(f"--{name.replace('_', '-')} must be >= {minimum}, "
                             f"got {getattr(args, name)}")
    if not args.learning_rate > 0:
        raise ValueError(f"--learning-rate must be > 0, got {args.learning_rate}")
    model_preset(args.preset)


def run(args: argparse.Namespace) -> int:
    check_arguments(args)
    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    raw, canonical = DescriptorSettings(orbital_signs="raw"), DescriptorSettings()
    angles = np.linspace(0.0, 180.0, args.angles)
    records = rotated_water(angles)
    states = {"raw": build_states(records, raw, jnp.float32),
              "canonical": build_states(records, canonical, jnp.float32)}
    flips = sign_flips([s.hf.descriptors[0] for s in states["raw"]], angles, raw.layout)
    flipped = np.zeros(len(angles), bool)
    flipped[[i for i, _ in flips]] = True

    config = model_preset(args.preset)
    baseline = dataclasses.replace(config, phase_equivariant=False)
    # (ansatz, sign convention of its descriptors and targets)
    variants = {"equivariant": (make_ansatz(config, raw), "raw"),
                "baseline": (make_ansatz(baseline, raw), "raw"),
                "baseline_canonical": (make_ansatz(baseline, canonical), "canonical")}
    key = jax.random.PRNGKey(args.seed)
    functions = hf_functions(variants["equivariant"][0])
    # |psi_HF|^2 and the orbital order do not depend on the signs: one set of walkers.
    walkers = hf_walkers(functions, states["raw"], args.walkers, args.burn_in,
                         jax.random.fold_in(key, 0))
    fits = {name: fit_across_rotation(ansatz, functions, states[signs], walkers, args.steps,
                                      args.learning_rate, jax.random.fold_in(key, 1),
                                      jax.random.fold_in(key, 2), name)
            for name, (ansatz, signs) in variants.items()}

    rows = [{"angle_deg": float(a), "sign_flip": bool(f),
             **{f"loss_{name}": float(fit.final_loss[i]) for name, fit in fits.items()}}
            for i, (a, f) in enumerate(zip(angles, flipped))]
    write_csv(rows, output / "phase_demo.csv")
    summary = {
        "angles": len(angles), "steps": args.steps, "walkers": args.walkers,
        "preset": args.preset, "seed": args.seed,
        "flips": [{"angle_deg": float(angles[i]), "orbital": k} for i, k in flips],
        **{name: {"mean_final_loss": float(fit.final_loss.mean()),
                  "loss_ratio_at_flips": loss_ratio_at_flips(fit.final_loss, flipped)}
           for name, fit in fits.items()},
    }
    jsonfile.write(output / "phase_demo.json", summary)
    plot_phase_demo(angles, angles[flipped], fits, output / "phase_demo.png")

    print(f"{len(flips)} sign flips at {int(flipped.sum())} of {len(angles)} angles: "
          + ", ".join(f"{angles[i]:g} deg (orbital {k})" for i, k in flips))
    for name, fit in fits.items():
        print(f"{name:<12} mean final loss {fit.final_loss.mean():.3e}, loss ratio at flips "
              f"{summary[name]['loss_ratio_at_flips']:.2f}")
    ratio = fits["baseline"].final_loss.mean() / fits["equivariant"].final_loss.mean()
    print(f"baseline / equivariant mean final loss: {ratio:.2f}")
    print(f"results: {output}/phase_demo.csv, plot: {output}/phase_demo.png")
    return 0
