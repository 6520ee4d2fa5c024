"""``fwf bench``: throughput of the VMC step and of the two Laplacians, after compilation;
with ``--recipe``, of a recipe's pretraining loop as a user runs it."""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import tempfile
import time

import jax

from foundation_wf.ansatz import PRESETS
from foundation_wf.train import phases
from foundation_wf.train.config import RunConfig, apply_overrides, build, load_config
from foundation_wf.train.state import stack
from foundation_wf.train.trainer import Trainer
from foundation_wf.vmc.loss import make_batch_local_energy
from foundation_wf.vmc.optimizers import OPTIMIZERS
from foundation_wf.vmc.spring import make_walker_jacobian


JACOBIAN_PART = "per-walker Jacobian of log|psi| (SPRING)"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="steps/s, walkers*steps/s and peak memory of the VMC step",
        description="Benchmark one geometry: the optimizer step as pretraining runs it (MCMC "
                    "sweep + local energies + optimizer update, in the training loop, after a "
                    "warm-up step that compiles it) with the process's CPU use, then where a "
                    "step's time goes: the orbital GNN, log|psi| of the walkers (one "
                    "Metropolis move), the MCMC sweep, the local energy with the forward and "
                    "with the loop Laplacian, with --optimizer spring the per-walker Jacobian "
                    "of log|psi|, and the rest (gradient and optimizer update). "
                    "With --recipe: a recipe's whole optimization loop.",
    )
    parser.add_argument("--dataset", default="reference")
    parser.add_argument("--geometry", default="LiH_R3.015", help="geometry name in the dataset")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small")
    parser.add_argument("--walkers", type=int, default=256)
    parser.add_argument("--optimizer", default="kfac", choices=OPTIMIZERS)
    parser.add_argument("--steps", type=int, default=20, help="timed repetitions")
    parser.add_argument("--precision", choices=["float32", "float64"], default="float32")
    parser.add_argument("--recipe", help="measure this pretraining recipe's optimization loop "
                        "instead (its dataset, walkers, geometries_per_step and scheduler; "
                        "every overhead included): walker-steps/s, geometry-steps/s and CPU "
                        "use over --steps optimizer steps, after one warm-up step per "
                        "compound (compilation)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                        help="settings changed for the measurement, e.g. "
                             "local_energy_chunk=32, or with --recipe "
                             "scheduler.geometries_per_step=7")
    parser.set_defaults(run=run)


def timed(function, repetitions: int) -> tuple[float, float]:
    """(first call incl. compilation, mean of later calls) in seconds.

    One untimed call follows the first: a step fed its own outputs (committed, donated
    buffers) can compile once more, which must not be counted as step time.
    """
    start = time.perf_counter()
    jax.block_until_ready(function())
    first = time.perf_counter() - start
    jax.block_until_ready(function())
    start = time.perf_counter()
    for _ in range(repetitions):
        jax.block_until_ready(function())
    return first, (time.perf_counter() - start) / repetitions


def peak_memory_text() -> str:
    device = jax.devices()[0]
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and "peak_bytes_in_use" in stats:
        return f"{stats['peak_bytes_in_use'] / 2**20:.0f} MiB ({device.platform})"
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB (host RSS)"


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all threads), seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_optimization(config: RunConfig, steps: int) -> tuple[Trainer, float, float, int]:
    """Run ``config``'s optimization loop as pretraining runs it (scheduler, metric fetches
    and all) for ``steps`` optimizer steps, after one untimed warm-up step per compound (its
    compilation); (trainer, seconds, CPU seconds, geometry-steps). Nothing is written outside
    a temporary run folder."""
    with tempfile.TemporaryDirectory(prefix="fwf_bench_") as folder:
        config = dataclasses.replace(
            config, output=folder, pretrain=dataclasses.replace(config.pretrain, steps=0),
            evaluation=dataclasses.replace(config.evaluation, steps=0),
            checkpoint=dataclasses.replace(config.checkpoint, every=10**9))
        trainer = Trainer(config)
        try:
            trainer.prepare()
            warm_up = len({s.record.compound for s in trainer.states})
            trainer.optimize(until=warm_up)  # compiles one step per compound
            geometry_steps = trainer.scheduler.steps.sum()
            start, cpu = time.perf_counter(), cpu_seconds()
            trainer.optimize(until=warm_up + steps)
            elapsed, cpu = time.perf_counter() - start, cpu_seconds() - cpu
            geometry_steps = int(trainer.scheduler.steps.sum() - geometry_steps)
        finally:
            trainer.close()
    return trainer, elapsed, cpu, geometry_steps


def run_recipe(args: argparse.Namespace) -> int:
    """Time the recipe's optimization loop (metrics, scheduler and all) after a warm-up."""
    config = load_config(args.recipe, args.overrides)
    trainer, elapsed, cpu, geometry_steps = timed_optimization(config, args.steps)
    print(f"recipe {args.recipe}: {len(trainer.states)} geometries, {config.walkers} walkers "
          f"each, {config.scheduler.geometries_per_step} geometries per step, "
          f"{jax.devices()[0].platform}")
    print(f"{args.steps} optimizer steps in {elapsed:.1f} s: {args.steps / elapsed:.2f} steps/s, "
          f"{geometry_steps / elapsed:.2f} geometry-steps/s, "
          f"{geometry_steps * config.walkers / elapsed:,.0f} walker-steps/s; "
          f"CPU {100 * cpu / elapsed:.0f}% (of {100 * os.cpu_count()}%)")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.recipe:
        return run_recipe(args)
    config = build(RunConfig, apply_overrides(dict(
        dataset=args.dataset, geometries=[args.geometry], model=args.preset,
        walkers=args.walkers, precision=args.precision, steps=0, mcmc={"burn_in": 5},
        optim={"name": args.optimizer}, log_every=max(args.steps, 1),
    ), args.overrides))
    trainer, elapsed, cpu, _ = timed_optimization(config, args.steps)
    per_step = elapsed / args.steps
    state = trainer.states[0]
    m = state.record.molecule
    print(f"system {args.geometry} ({m.n_electrons} electrons, {m.n_atoms} atoms), preset "
          f"{args.preset}, {args.walkers} walkers, {args.precision}, {jax.devices()[0].platform}")
    print(f"{args.optimizer} step (MCMC sweep of {config.mcmc.steps_per_update} moves + "
          f"update, as in pretraining): {1 / per_step:.2f} steps/s, "
          f"{args.walkers / per_step:,.0f} walker-steps/s; "
          f"CPU {100 * cpu / elapsed:.0f}% (of {100 * os.cpu_count()}%)")
    parts = step_parts(trainer, config, args.steps)
    print("where a step's time goes (each part timed alone, ms):")
    for name, seconds in parts.items():
        print(f"  {name:<44} {seconds * 1e3:8.1f}")
    in_step = ("MCMC sweep", "local energy, forward Laplacian", JACOBIAN_PART)
    rest = per_step - sum(seconds for name, seconds in parts.items() if name in in_step)
    print(f"  {'gradient + optimizer update (the rest)':<44} {rest * 1e3:8.1f}")
    print(f"peak memory: {peak_memory_text()}")
    return 0


def step_parts(trainer: Trainer, config: RunConfig, repetitions: int) -> dict[str, float]:
    """Seconds per call of the parts of one training step on the trainer's first geometry,
    each compiled and timed alone: the orbital GNN (once per geometry and step), log|psi| of
    the walkers (one Metropolis move costs about that), the MCMC sweep and the local energy
    with either Laplacian; with SPRING, the per-walker Jacobian of log|psi| (every walker's
    gradient, the orbital GNN's included)."""
    functions = phases.run_functions_for(trainer.ansatz, config)
    state, params, key = trainer.states[0], trainer.params, jax.random.PRNGKey(0)
    x = state.walkers.electrons
    orbital_gnn = jax.jit(trainer.ansatz.orbitals)
    orbitals = orbital_gnn(params, state.geometry)
    log_psi = jax.jit(trainer.ansatz.walkers_log_psi)
    parts = {
        "orbital GNN": lambda: orbital_gnn(params, state.geometry),
        "log|psi| of the walkers (one move)": lambda: log_psi(params, orbitals, state.geometry, x),
        "MCMC sweep": lambda: functions.network_sweep(params, state.geometry, state.walkers, key),
    }
    for laplacian in ("forward", "loop"):
        energy = jax.jit(make_batch_local_energy(trainer.ansatz, laplacian,
                                                 config.local_energy_chunk))
        parts[f"local energy, {laplacian} Laplacian"] = (
            lambda energy=energy: energy(params, state.geometry, x))
    if config.optim.name == "spring":
        jacobian = jax.jit(make_walker_jacobian(trainer.ansatz))
        geometries = stack([state.geometry])
        parts[JACOBIAN_PART] = lambda: jacobian(params, geometries, x[None])
    return {name: timed(call, repetitions)[1] for name, call in parts.items()}
