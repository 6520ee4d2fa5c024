"""Shared fixtures: float64 JAX for exact-property tests, a private HF cache per session."""

import os
import tempfile

import jax
import pytest

jax.config.update("jax_enable_x64", True)
# One compilation cache for this process and the CLI subprocesses the tests start, so each
# XLA program is compiled once per test session.
COMPILATION_CACHE = tempfile.mkdtemp(prefix="fwf_jax_cache_")
os.environ["FWF_JAX_CACHE_DIR"] = COMPILATION_CACHE
jax.config.update("jax_compilation_cache_dir", COMPILATION_CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)

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
