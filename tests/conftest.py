"""Shared fixtures: float64 JAX for exact-property tests, a private HF cache per session, a
compilation cache shared by the suite's processes."""

import gc
import os
import pathlib
import shutil
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

jax.config.update("jax_enable_x64", True)

# Compiled XLA programs shared on disk by the test processes of one suite run (both xdist
# workers, the module boundaries where release_compiled_code drops them from memory, and
# the `fwf` subprocesses, through the environment). Most of the suite's time is compilation.
COMPILATION_CACHE = pathlib.Path(tempfile.gettempdir()) / f"fwf_test_jax_cache_{os.getpid()}"
OWN_COMPILATION_CACHE = "JAX_COMPILATION_CACHE_DIR" not in os.environ  # not the user's
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(COMPILATION_CACHE))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update("jax_persistent_cache_min_compile_time_secs",
                  float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]))

# Small runs shared by the training and checkpoint tests (same shapes: compiled once).
TINY_RUN = dict(model="tiny", walkers=64, precision="float64", log_every=1,
                mcmc={"burn_in": 10}, evaluation={"steps": 0})


def perturbed(params, seed: int, scale: float):
    """Parameters with every entry (biases included) moved by scale * N(0, 1) away from
    initialization. Drawn with NumPy: jax.random would compile one generator per leaf shape,
    ten seconds and more for a tiny model on 2 cores."""
    rng = np.random.default_rng(seed)
    return jax.tree_util.tree_map(
        lambda x: x + jnp.asarray(scale * rng.standard_normal(x.shape), x.dtype), params)


@pytest.fixture(scope="session", autouse=True)
def private_cache_dir(tmp_path_factory):
    """Keep test HF results out of the user's cache."""
    path = tmp_path_factory.mktemp("hf_cache")
    previous = os.environ.get("FWF_CACHE_DIR")
    os.environ["FWF_CACHE_DIR"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("FWF_CACHE_DIR", None)
    else:
        os.environ["FWF_CACHE_DIR"] = previous


@pytest.fixture(scope="module", autouse=True)
def release_compiled_code():
    """Drop compiled executables after each test module.

    Every XLA:CPU executable maps its code into the process; the whole suite in one process
    compiles thousands, and near the kernel's limit of memory maps (vm.max_map_count, 65530
    here) XLA failed with "Failed to materialize symbols" or crashed.
    """
    yield
    from foundation_wf.train import compiled  # after the float64 switch above

    compiled.clear_caches()
    gc.collect()


# The default suite's time is mostly XLA compiling programs that then run a few steps: with
# LLVM's optimisation off they compile about a third faster (the whole suite: 11:25 -> 7:06)
# and run 3-4 times slower, a loss for the slow tests, which run long; so only a run that
# deselects them gets it.
FAST_COMPILE = "--xla_backend_optimization_level=0"


def pytest_configure(config):
    """Before any computation (XLA reads its flags when the CPU backend starts; the `fwf`
    subprocesses and xdist workers inherit them through the environment)."""
    flags = os.environ.get("XLA_FLAGS", "")
    if config.getoption("markexpr") == "not slow" and FAST_COMPILE not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {FAST_COMPILE}".strip()


def pytest_unconfigure(config):
    """The process that made the compilation cache (the controller, not an xdist worker,
    which inherits it) removes it when the suite ends."""
    if OWN_COMPILATION_CACHE:
        shutil.rmtree(COMPILATION_CACHE, ignore_errors=True)
