"""Entry point of the ``fwf`` command: one module per subcommand, each with add_parser/run."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

import threadpoolctl

from foundation_wf.cli import (
    bench_cmd, compare_cmd, compare_finetune_cmd, dataset_cmd, evaluate_cmd, finetune_cmd,
    hf_cmd, landscape_cmd, model_cmd, phase_demo_cmd, plot_runs_cmd, pretrain_cmd,
    scaling_cmd,
)

SUBCOMMANDS = (dataset_cmd, hf_cmd, model_cmd, pretrain_cmd, evaluate_cmd, finetune_cmd,
               compare_finetune_cmd, plot_runs_cmd, compare_cmd, landscape_cmd, phase_demo_cmd,
               scaling_cmd, bench_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fwf",
        description=(
            "foundation_wf: transferable neural-network wavefunctions. Pretrain one network "
            "across molecules and geometries by variational Monte Carlo, then evaluate new "
            "geometries zero-shot or fine-tune. Atomic units (bohr, hartree) throughout."
        ),
    )
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of one line")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(subparsers)
    return parser


def enable_compilation_cache() -> None:
    """Reuse compiled XLA programs across runs when $FWF_JAX_CACHE_DIR names a folder.

    Off by default: on CPU, XLA's cached programs are checked against the host's exact
    feature set and JAX logs errors when they differ; worth enabling on GPU clusters."""
    import jax

    directory = os.environ.get("FWF_JAX_CACHE_DIR")
    if directory:
        jax.config.update("jax_compilation_cache_dir", directory)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)


def limit_blas_threads() -> None:
    """One BLAS thread per library (OpenBLAS in SciPy and NumPy) unless
    $OPENBLAS_NUM_THREADS is set. jaxlib runs its CPU LAPACK calls (KFAC's factor inverses,
    SPRING's solve) through SciPy's OpenBLAS, whose threads compete with XLA's own pool for
    the same cores: with one, `fwf bench --dataset hydrogen_chains --geometry H6_d1.600` ran
    6.45 / 6.20 / 6.47 steps/s against 6.17 / 6.17 / 5.82 with two, alternated on 2 cores."""
    if "OPENBLAS_NUM_THREADS" not in os.environ:
        threadpoolctl.threadpool_limits(limits=1, user_api="blas")


def parse_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] | None):
    """The parsed arguments, with KEY=VALUE overrides accepted after options too
    (``fwf finetune RECIPE --checkpoint RUN steps=50``): argparse alone stops collecting a
    subcommand's positional overrides at its first option."""
    args, extra = parser.parse_known_args(argv)
    overrides = [token for token in extra if "=" in token and not token.startswith("-")]
    if overrides and hasattr(args, "overrides"):
        args.overrides = [*args.overrides, *overrides]
        extra = [token for token in extra if token not in overrides]
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand. Errors are one line on stderr (exit 2 for bad input, 1 for anything
    else) unless --debug asks for the traceback."""
    enable_compilation_cache()
    limit_blas_threads()
    parser = build_parser()
    args = parse_arguments(parser, argv)
    try:
        return int(args.run(args) or 0)
    except Exception as error:  # noqa: BLE001  (the one place that turns errors into lines)
        if args.debug:
            raise
        user_error = isinstance(error, (ValueError, OSError, RuntimeError))
        kind = "error" if user_error else f"internal error ({type(error).__name__})"
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"fwf {args.command}: {kind}: {message} (--debug shows the traceback)",
              file=sys.stderr)
        return 2 if user_error else 1


if __name__ == "__main__":
    sys.exit(main())
