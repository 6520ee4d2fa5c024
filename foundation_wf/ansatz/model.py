"""Pure functions around the Flax module: init, per-geometry orbitals, batched log|psi|."""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp
import kfac_jax

from foundation_wf.ansatz.geometry import GeometryInput
from foundation_wf.ansatz.gnn import OrbitalParameters
from foundation_wf.ansatz.presets import ModelConfig, resolve_model
from foundation_wf.ansatz.wavefunction import TransferableWavefunction
from foundation_wf.hf.settings import DescriptorSettings


def tag_per_geometry_params(params: dict) -> dict:
    """Give each orbital-GNN parameter its own diagonal (generic) KFAC curvature block.

    The GNN runs once per geometry, so its layers have no walker batch axis and KFAC's
    Kronecker-factored dense blocks (which need one) do not apply; the tag is the identity
    outside KFAC.
    """
    inner = dict(params["params"])
    inner["gnn"] = jax.tree_util.tree_map(kfac_jax.register_generic, inner["gnn"])
    return {**params, "params": inner}


@dataclasses.dataclass(frozen=True)
class Ansatz:
    """The transferable ansatz as pure functions of (params, geometry, electrons)."""

    config: ModelConfig
    settings: DescriptorSettings

    @property
    def module(self) -> TransferableWavefunction:
        return TransferableWavefunction(self.config, self.settings)

    def init(self, key: jax.Array, geometry: GeometryInput) -> dict:
        """Random parameters in the geometry's float dtype; shapes do not depend on it."""
        dtype = geometry.coords.dtype
        electrons = jax.random.normal(key, (geometry.n_up + geometry.n_down, 3), dtype)
        params = _jitted_init(self)(key, geometry, electrons)
        return jax.tree_util.tree_map(lambda p: p.astype(dtype), params)

    def orbitals(self, params: dict, geometry: GeometryInput) -> OrbitalParameters:
        """Per-geometry network orbitals (compute once, share across walkers)."""
        return self.module.apply(tag_per_geometry_params(params), geometry,
                                 method=TransferableWavefunction.orbitals)

    def log_psi(self, params: dict, orbitals: OrbitalParameters, geometry: GeometryInput,
                electrons: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        """(sign, log|psi|) of one walker, electrons [N, 3] bohr, up electrons first."""
        return self.module.apply(params, orbitals, geometry, electrons,
                                 method=TransferableWavefunction.log_psi)

    def electron_features(self, params: dict, orbitals: OrbitalParameters,
                          geometry: GeometryInput, electrons: jnp.ndarray) -> tuple:
        """What depends on one electron only, row by row, for electrons [M, 3] bohr
        (``TransferableWavefunction.electron_features``)."""
        return self.module.apply(params, orbitals, geometry, electrons,
                                 method=TransferableWavefunction.electron_features)

    def pair_features(self, params: dict, distance_sq: jnp.ndarray,
                      same_spin: jnp.ndarray) -> tuple:
        """What depends on one electron pair only, from r_ij^2 [...] bohr^2 and same-spin
        flags [...] (``TransferableWavefunction.pair_features``)."""
        return self.module.apply(params, distance_sq, same_spin,
                                 method=TransferableWavefunction.pair_features)

    def log_psi_from_features(self, params: dict, orbitals: OrbitalParameters,
                              geometry: GeometryInput, h0: jnp.ndarray, sums: tuple,
                              contract: Callable,
                              weigh: Callable) -> tuple[jnp.ndarray, jnp.ndarray]:
        """(sign, log|psi|) of one walker from its electron-nucleus features, pair-feature
        row sums, pair contraction and envelope-weighted sums
        (``TransferableWavefunction.local_features``)."""
        return self.module.apply(params, orbitals, geometry, h0, sums, contract, weigh,
                                 method=TransferableWavefunction.log_psi_from_features)

    def batch_slater_matrices(self, params: dict, geometry: GeometryInput,
                              electrons: jnp.ndarray) -> jnp.ndarray:
        """Slater matrices [B, n_det, N, N] for walkers [B, N, 3]."""
        orbitals = self.orbitals(params, geometry)
        one = lambda x: self.module.apply(  # noqa: E731
            params, orbitals, geometry, x, method=TransferableWavefunction.slater_matrices)
        return jax.vmap(one)(electrons)

    def walkers_log_psi(self, params: dict, orbitals: OrbitalParameters,
                        geometry: GeometryInput,
                        electrons: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        """(sign [B], log|psi| [B]) for walkers [B, N, 3] with precomputed orbitals."""
        return jax.vmap(self.log_psi, in_axes=(None, None, None, 0))(
            params, orbitals, geometry, electrons)

    def batch_log_psi(self, params: dict, geometry: GeometryInput,
                      electrons: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        """(sign [B], log|psi| [B]) for walkers [B, N, 3]; the GNN runs once for all."""
        return self.walkers_log_psi(params, self.orbitals(params, geometry), geometry,
                                    electrons)


def make_ansatz(preset: str | ModelConfig = "small",
                settings: DescriptorSettings | None = None) -> Ansatz:
    config = resolve_model(preset)
    return Ansatz(config, settings or DescriptorSettings())


def parameter_count(params) -> int:
    return int(sum(x.size for x in jax.tree_util.tree_leaves(params)))


@functools.lru_cache(maxsize=8)
def _jitted_init(ansatz: Ansatz):
    """The module's init, jitted once per ansatz (every run of a process shares it)."""
    return jax.jit(ansatz.module.init)
