"""Walkers sharded over all local devices (the walker axis is the data-parallel axis).

Multi-host runs call ``jax.distributed.initialize()`` first (see README, "Clusters"); then
``jax.devices()`` spans every host and the same sharding spreads walkers over all of them.
"""

from __future__ import annotations

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def walker_sharding(n_walkers: int) -> NamedSharding:
    """Sharding of arrays whose leading axis is the walker axis, over all devices."""
    devices = jax.devices()
    if n_walkers % len(devices):
        raise ValueError(f"walkers ({n_walkers}) must be divisible by the number of devices "
                         f"({len(devices)})")
    return NamedSharding(Mesh(devices, ("walkers",)), PartitionSpec("walkers"))


def shard(array: jax.Array, sharding: NamedSharding) -> jax.Array:
    """Place a walker-leading array on the devices, split along its first axis."""
    return jax.device_put(array, sharding)


def replicate(tree, sharding: NamedSharding):
    """A pytree (parameters, optimizer state) copied to every device of the walker mesh:
    the placement the training step's outputs have, so that its inputs always have the same
    one and the step compiles once per shape, not once more after its first call."""
    return jax.device_put(tree, NamedSharding(sharding.mesh, PartitionSpec()))


def place_walkers(walkers, sharding: NamedSharding):
    """Walkers (``mcmc.WalkerState``) placed as the compiled sweeps return them: electrons
    and log|psi| split along the walker axis, step size and acceptance replicated. Restored
    walkers placed otherwise would make the training step compile once more."""
    return walkers.replace(electrons=shard(walkers.electrons, sharding),
                           log_abs=shard(walkers.log_abs, sharding),
                           step_size=replicate(walkers.step_size, sharding),
                           acceptance=replicate(walkers.acceptance, sharding))


def describe() -> str:
    """The devices walkers are sharded over, e.g. "2 x cpu" (all hosts)."""
    return f"{jax.device_count()} x {jax.devices()[0].platform}"
