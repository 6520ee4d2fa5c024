"""Shared fixtures: float64 JAX for exact-property tests, a private HF cache per session."""

import gc
import os

import jax
import pytest

jax.config.update("jax_enable_x64", True)

# Small runs shared by the training and checkpoint tests (same shapes: compiled once).
TINY_RUN = dict(model="tiny", walkers=64, precision="float64", log_every=1,
                mcmc={"burn_in": 10}, evaluation={"steps": 0})


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
