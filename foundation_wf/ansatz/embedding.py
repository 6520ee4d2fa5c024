"""Size-agnostic electron embedding: FermiNet-like one- and two-electron streams.

Electron-nucleus information enters as per-(electron, atom) features, built from the distance
and a learned element embedding, summed over the atoms within a smooth distance cutoff (so
the sum stays bounded as molecules grow); nothing is concatenated over atoms, so the
parameter shapes do not depend on the molecule. Only distances are used: rotation invariant.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from foundation_wf.ansatz.presets import ModelConfig
from foundation_wf.ansatz.radial import distance_features, safe_norm, smooth_cutoff


def spin_means(x: jnp.ndarray, n_up: int, axis: int) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Means of x over the up and over the down electrons along ``axis`` (zero if none)."""
    n = x.shape[axis]
    up = jnp.take(x, jnp.arange(n_up), axis=axis)
    down = jnp.take(x, jnp.arange(n_up, n), axis=axis)
    return (jnp.sum(up, axis=axis) / max(n_up, 1), jnp.sum(down, axis=axis) / max(n - n_up, 1))


class ElectronEmbedding(nn.Module):
    """Electron positions -> per-electron features h [N, embedding_width]."""

    config: ModelConfig
    n_elements: int

    @nn.compact
    def __call__(self, electrons, n_up: int, coords, element_index):
        """electrons [N, 3] (up first), coords [A, 3] bohr, element_index [A] -> h [N, W]."""
        cfg = self.config
        n_electrons = electrons.shape[0]
        distance_en = safe_norm(electrons[:, None] - coords[None])  # [N, A]
        element = nn.Embed(self.n_elements, cfg.element_embedding, name="element_embed")(
            element_index)
        en_in = jnp.concatenate([
            distance_features(distance_en, cfg.n_rbf, cfg.rbf_cutoff),
            jnp.broadcast_to(element[None], (n_electrons,) + element.shape),
        ], axis=-1)
        per_atom = jnp.tanh(nn.Dense(cfg.embedding_width, name="electron_nucleus")(en_in))
        cutoff = smooth_cutoff(distance_en, cfg.rbf_cutoff)[..., None]
        h = jnp.sum(cutoff * per_atom, axis=1)  # [N, W]

        distance_ee = safe_norm(electrons[:, None] - electrons[None])  # [N, N]
        g = jnp.tanh(nn.Dense(cfg.pair_width, name="pair_in")(
            distance_features(distance_ee, cfg.n_rbf, cfg.rbf_cutoff)))  # [N, N, Wp]
        for layer in range(cfg.embedding_layers):
            h_up, h_down = spin_means(h, n_up, axis=0)
            g_up, g_down = spin_means(g, n_up, axis=1)
            one = jnp.concatenate([
                h,
                jnp.broadcast_to(h_up, h.shape),
                jnp.broadcast_to(h_down, h.shape),
                g_up, g_down,
            ], axis=-1)
            h = h + jnp.tanh(nn.Dense(cfg.embedding_width, name=f"one_{layer}")(one))
            if layer < cfg.embedding_layers - 1:
                g = g + jnp.tanh(nn.Dense(cfg.pair_width, name=f"two_{layer}")(g))
        return h
