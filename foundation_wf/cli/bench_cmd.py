"""``fwf bench``: throughput of the VMC step and of the two Laplacians, after compilation."""

from __future__ import annotations

import argparse
import resource
import time

import jax

from foundation_wf.ansatz import PRESETS
from foundation_wf.train.config import RunConfig, build
from foundation_wf.train.trainer import Trainer
from foundation_wf.vmc.loss import make_batch_local_energy


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="steps/s, walkers*steps/s and peak memory of the VMC step",
        description="Benchmark one geometry: the full optimizer step (MCMC sweep + energy + "
                    "optimizer update) and the local energy with the forward Laplacian and "
                    "with the loop Laplacian. Compile time is reported separately.",
    )
    parser.add_argument("--dataset", default="reference")
    parser.add_argument("--geometry", default="LiH_R3.015", help="geometry name in the dataset")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small")
    parser.add_argument("--walkers", type=int, default=256)
    parser.add_argument("--optimizer", default="kfac", choices=["kfac", "adam", "rmsprop", "sgd"])
    parser.add_argument("--steps", type=int, default=20, help="timed repetitions")
    parser.add_argument("--precision", choices=["float32", "float64"], default="float32")
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


def run(args: argparse.Namespace) -> int:
    config = build(RunConfig, dict(
        dataset=args.dataset, geometries=[args.geometry], model=args.preset,
        walkers=args.walkers, precision=args.precision, output="/tmp/fwf_bench",
        steps=0, pretrain={"steps": 0}, mcmc={"burn_in": 5}, evaluation={"steps": 0},
        optim={"name": args.optimizer},
    ))
    trainer = Trainer(config)
    trainer.burn_in()
    trainer._init_optimizer()
    state = trainer.states[0]

    def full_step():
        state.walkers = trainer._network_sweep(trainer.params, state.geometry, state.walkers,
                                               jax.random.PRNGKey(2))
        trainer.params, trainer.opt_state, energy, _ = trainer.optimizer.step(
            trainer.params, trainer.opt_state, jax.random.PRNGKey(3), trainer._batch(state))
        return energy

    first, per_step = timed(full_step, args.steps)
    m = state.record.molecule
    print(f"system {args.geometry} ({m.n_electrons} electrons, {m.n_atoms} atoms), preset "
          f"{args.preset}, {args.walkers} walkers, {args.precision}, {jax.devices()[0].platform}")
    print(f"{args.optimizer} step (MCMC sweep of {config.mcmc.steps_per_update} moves + "
          f"update): {1 / per_step:.2f} steps/s, {args.walkers / per_step:,.0f} "
          f"walker-steps/s; first call incl. compile {first:.1f} s")
    for laplacian in ("forward", "loop"):
        energy_fn = jax.jit(make_batch_local_energy(trainer.ansatz, laplacian,
                                                    config.local_energy_chunk))
        first, per_call = timed(lambda: energy_fn(trainer.params, state.geometry,
                                                  state.walkers.electrons), args.steps)
        print(f"local energy, {laplacian:>7} Laplacian (chunks of {config.local_energy_chunk} "
              f"walkers): {args.walkers / per_call:,.0f} "
              f"walkers/s ({per_call * 1e3:.1f} ms per batch); compile {first:.1f} s")
    print(f"peak memory: {peak_memory_text()}")
    return 0
