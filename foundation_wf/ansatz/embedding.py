"""Local, size-consistent electron embedding.

An electron's features come only from the nuclei and the other electrons within
``ModelConfig.embedding_cutoff``: each contribution is weighted by a smooth cutoff (no means
over all electrons, whose value would change with the size of the molecule), so an
electron in a long chain sees what it saw in a short one, and electrons of far-apart
fragments do not see each other at all.

* Electron-nucleus: per-(electron, atom) features from the distance and a learned element
  embedding, summed over atoms; nothing is concatenated over atoms, so the parameter shapes do
  not depend on the molecule.
* Electron-electron: continuous-filter messages (filters of r_ij^2 only, zero slope at
  r_ij = 0, so no cusp is added to the Jastrow's) from same-spin and opposite-spin
  neighbours, averaged separately with cutoff weights (``neighbour_weights``).

Only distances are used: rotation invariant.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from foundation_wf.ansatz.presets import ModelConfig
from foundation_wf.ansatz.radial import (aggregation_weights, distance_features,
                                         even_radial_basis, neighbour_weights, safe_norm,
                                         smooth_cutoff, smooth_cutoff_sq)


def electron_spins(n_up: int, n_electrons: int) -> jnp.ndarray:
    """[N] bool: True for down electrons (electrons are ordered up first)."""
    return jnp.arange(n_electrons) >= n_up


class ElectronEmbedding(nn.Module):
    """Electron positions -> per-electron features h [N, embedding_width]."""

    config: ModelConfig
    n_elements: int

    @nn.compact
    def __call__(self, electrons, n_up: int, coords, element_index):
        """electrons [N, 3] (up first), coords [A, 3] bohr, element_index [A] -> h [N, W]."""
        cfg = self.config
        n_electrons = electrons.shape[0]
        cutoff = cfg.embedding_cutoff
        distance_en = safe_norm(electrons[:, None] - coords[None])  # [N, A]
        element = nn.Embed(self.n_elements, cfg.element_embedding, name="element_embed")(
            element_index)
        en_in = jnp.concatenate([
            distance_features(distance_en, cfg.n_rbf, cutoff),
            jnp.broadcast_to(element[None], (n_electrons,) + element.shape),
        ], axis=-1)
        per_atom = jnp.tanh(nn.Dense(cfg.embedding_width, name="electron_nucleus")(en_in))
        atom_weights = aggregation_weights(smooth_cutoff(distance_en, cutoff),  # [N, A]
                                           cfg.neighbour_mean)
        h = jnp.einsum("ia,iaw->iw", atom_weights, per_atom)  # [N, W]

        offset = electrons[:, None] - electrons[None]
        distance_sq = jnp.sum(offset * offset, axis=-1)  # [N, N]
        not_self = 1.0 - jnp.eye(n_electrons, dtype=electrons.dtype)
        weight = smooth_cutoff_sq(distance_sq, cutoff) * not_self  # [N, N]
        spin = electron_spins(n_up, n_electrons)
        same = (spin[:, None] == spin[None, :]).astype(electrons.dtype)
        weight_same = neighbour_weights(weight * same)
        weight_opposite = neighbour_weights(weight * (1.0 - same))
        pair = even_radial_basis(distance_sq, cfg.n_rbf, cutoff)  # [N, N, n_rbf]
        for layer in range(cfg.embedding_layers):
            filters = jnp.tanh(nn.Dense(cfg.pair_width, name=f"filter_{layer}")(pair))
            values = nn.Dense(cfg.pair_width, name=f"value_{layer}")(h)  # [N, Wp]
            messages = filters * values[None]  # [N, N, Wp]
            from_same = jnp.einsum("ij,ijc->ic", weight_same, messages)
            from_opposite = jnp.einsum("ij,ijc->ic", weight_opposite, messages)
            update = nn.Dense(cfg.embedding_width, name=f"one_{layer}")(
                jnp.concatenate([h, from_same, from_opposite], axis=-1))
            h = h + jnp.tanh(update)
        return h
