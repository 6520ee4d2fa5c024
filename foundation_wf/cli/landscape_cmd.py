"""``fwf landscape --checkpoint CKPT``: energy landscape around trained parameters."""

from __future__ import annotations

import argparse
import pathlib

import jax
import numpy as np

from foundation_wf import jsonfile
from foundation_wf.analysis.landscape import (
    LandscapeGrid, landscape_grid, make_point_energy, normalized_direction, perturbed,
)
from foundation_wf.analysis.landscape_plot import plot_landscapes
from foundation_wf.cli.arguments import add_checkpoint_argument
from foundation_wf.ansatz import make_ansatz
from foundation_wf.data.io import load_geometries
from foundation_wf.train import phases
from foundation_wf.train.config import use_precision
from foundation_wf.train.loggers import progress
from foundation_wf.train.pretrained import load_pretrained
from foundation_wf.train.state import build_states, select_records
from foundation_wf.vmc import mcmc


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "landscape", help="energy landscape around a checkpoint's parameters (contour PNG)",
        description="Evaluate E(theta* + a d1 + b d2) on a grid around the checkpoint's "
                    "parameters theta*, along two random directions normalised per weight "
                    "matrix (each block scaled to the Frobenius norm of the trained block). "
                    "Every grid point gets its own fresh set of MCMC samples: by default from "
                    "|psi|^2 of that point's parameters (walkers carried from the previous "
                    "point and re-equilibrated), so each value is a variational energy; with "
                    "--sampling trained from |psi_theta*|^2 with importance weights (cheaper, "
                    "valid only while the effective sample size stays large, i.e. small "
                    "--span). One grid per --samples value shows how sampling noise roughens "
                    "the surface. Writes landscape.npz "
                    "(a, b, energy_<n>, error_<n>, ess_<n>), landscape.json (summary) and "
                    "landscape.png to --output.",
    )
    add_checkpoint_argument(parser)
    parser.add_argument("--dataset", default=None,
                        help="dataset of the geometry (default: the checkpoint's)")
    parser.add_argument("--geometry", default=None,
                        help="geometry name (default: the checkpoint's first geometry)")
    parser.add_argument("--samples", type=int, nargs="+", default=[512, 4096],
                        help="MCMC samples per grid point; one landscape per value")
    parser.add_argument("--grid", type=int, default=15, help="points per axis (odd)")
    parser.add_argument("--sampling", choices=["perturbed", "trained"], default="perturbed",
                        help="sample each point's own |psi|^2, or the trained |psi|^2 with "
                             "importance weights")
    parser.add_argument("--span", type=float, default=0.5,
                        help="a and b run over [-span, span] (units of the trained norms)")
    parser.add_argument("--burn-in", type=int, default=100, help="MCMC sweeps before the grid")
    parser.add_argument("--sweeps-between", type=int, default=10,
                        help="MCMC sweeps between the sample sets of two grid points")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None,
                        help="output folder (default: <checkpoint run folder>/landscape, or "
                             "runs/landscape_<name> for a shipped model)")
    parser.set_defaults(run=run)


shifted = jax.jit(perturbed)


def check_arguments(args: argparse.Namespace) -> None:
    if args.grid < 3 or args.grid % 2 == 0:
        raise ValueError(f"--grid must be odd and >= 3 so that the trained parameters are the "
                         f"centre point, got {args.grid}")
    if args.span <= 0:
        raise ValueError(f"--span must be positive, got {args.span}")
    if min(args.samples) < 2:
        raise ValueError(f"--samples must be at least 2, got {args.samples}")


def run(args: argparse.Namespace) -> int:
    check_arguments(args)
    pretrained = load_pretrained(args.checkpoint, args.step)
    trained = pretrained.config
    names = [args.geometry] if args.geometry else (trained.geometries or None)
    records = select_records(load_geometries(args.dataset or trained.dataset), names)
    dtype = use_precision(trained.precision)
    state = build_states(records[:1], pretrained.settings, dtype)[0]
    ansatz = make_ansatz(pretrained.preset, pretrained.settings)
    functions = phases.run_functions_for(ansatz, trained)
    params = pretrained.params
    key = jax.random.PRNGKey(args.seed)
    d1 = normalized_direction(jax.random.fold_in(key, 1), params)
    d2 = normalized_direction(jax.random.fold_in(key, 2), params)
    coefficients = np.linspace(-args.span, args.span, args.grid)
    point_energy = make_point_energy(ansatz, trained.laplacian, trained.local_energy_chunk)
    grids: list[LandscapeGrid] = []
    for n_samples in args.samples:
        sample_key = jax.random.fold_in(key, 1000 + n_samples)
        electrons = mcmc.initial_electrons(jax.random.fold_in(sample_key, 0),
                                           state.record.molecule, n_samples, dtype=dtype)
        walkers = phases.equilibrated_walkers(
            functions, params, state.geometry, electrons, trained.mcmc.initial_step_size,
            args.burn_in, jax.random.fold_in(sample_key, 1))

        def samples(point: int, key=sample_key):
            nonlocal walkers
            i, j = divmod(point, args.grid)
            sampled = params if args.sampling == "trained" else shifted(
                params, d1, d2, coefficients[i], coefficients[j])
            for sweep in range(args.sweeps_between):
                walkers = functions.network_sweep(
                    sampled, state.geometry, walkers,
                    jax.random.fold_in(key, 10**6 + point * args.sweeps_between + sweep))
            # The sweep keeps log|psi_sampled| of the current positions.
            return walkers.electrons, walkers.log_abs

        points = progress([(i, j) for i in range(args.grid) for j in range(args.grid)],
                          desc=f"Grid ({n_samples} samples)", unit="point")
        grids.append(landscape_grid(point_energy, params, d1, d2, coefficients,
                                    state.geometry, samples, points))
    source = pathlib.Path(args.checkpoint)  # a run folder, or a shipped model's name
    output = pathlib.Path(args.output or (source / "landscape" if source.exists()
                                          else pathlib.Path("runs") / f"landscape_{source}"))
    output.mkdir(parents=True, exist_ok=True)
    arrays = {"a": coefficients, "b": coefficients}
    for grid in grids:
        arrays[f"energy_{grid.n_samples}"] = grid.energy
        arrays[f"ess_{grid.n_samples}"] = grid.ess
        arrays[f"error_{grid.n_samples}"] = grid.error
    np.savez(output / "landscape.npz", **arrays)
    summary = [{"samples": g.n_samples, "centre_energy": g.centre, "argmin": g.argmin,
                "min_energy": float(np.nanmin(g.energy)), "min_energy_error": g.min_error,
                "centre_error": float(g.error[args.grid // 2, args.grid // 2]),
                "reference": state.record.reference_energy, "roughness": g.roughness,
                "min_ess": float(np.nanmin(g.ess))} for g in grids]
    jsonfile.write(output / "landscape.json",
                   {"geometry": state.name, "checkpoint": str(args.checkpoint),
                    "step": pretrained.step, "sampling": args.sampling, "span": args.span,
                    "grid": args.grid, "grids": summary})
    plot_landscapes(grids, f"{state.name}: E(theta* + a d1 + b d2), checkpoint step "
                           f"{pretrained.step}", output / "landscape.png")
    for s in summary:
        print(f"{s['samples']:>6} samples: E(0,0) = {s['centre_energy']:.6f}"
              f"({1e6 * s['centre_error']:.0f} uHa), grid minimum {s['min_energy']:.6f}"
              f"({1e6 * s['min_energy_error']:.0f} uHa) at (a, b) = ({s['argmin'][0]:+.3f}, "
              f"{s['argmin'][1]:+.3f}), roughness {1e3 * s['roughness']:.3f} mHa, "
              f"smallest effective sample size {s['min_ess']:.0f}")
    reference = state.record.reference_energy
    for grid in grids if reference is not None else []:
        below = int(np.sum((reference - grid.energy) / grid.error > 3))
        if below:
            print(f"{grid.n_samples} samples: {below} grid point(s) lie more than 3 standard "
                  f"errors below the reference {reference:.6f} Ha: too few samples for that "
                  "perturbation (see error_/ess_ in landscape.npz)")
    print(f"grid: {output}/landscape.npz, plot: {output}/landscape.png")
    return 0
