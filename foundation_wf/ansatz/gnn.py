"""Orbital graph neural network: HF orbital descriptors -> network orbital parameters.

One graph per localized HF orbital (orbitals are a batch axis), nodes are atoms, all pairs are
edges, weighted by a smooth distance cutoff (``ModelConfig.gnn_cutoff``). s-type descriptor
entries are rotation scalars; p-shell entries are mixed by a learned linear map into vector
channels and used only through invariants (norms, dot products with
bond directions and with each other) or as vectors with invariant weights, so the outputs are
rotation invariant (f, alpha) or equivariant (the p-like directions U).

``orbital_parameters`` makes f and U exactly odd and alpha exactly even in the descriptor of
each orbital: f(c) = [g(c) - g(-c)] / 2, alpha(c) = softplus(h(c) + h(-c)).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

from foundation_wf.ansatz.layers import SplitDense
from foundation_wf.ansatz.presets import ModelConfig
from foundation_wf.ansatz.radial import (aggregation_weights, distance_features, safe_norm,
                                         smooth_cutoff)


class OrbitalParameters(struct.PyTreeNode):
    """Network orbitals of one geometry, both spins concatenated (up orbitals first).

    Index s is the spin relation between electron and orbital (0 same, 1 opposite), d the
    determinant, I the atom, k the orbital.

    Attributes:
      features: f[s, d, I, k, D], contracted with the electron embedding.
      directions: U[s, d, I, k, P, 3], dotted with (r_i - R_I) for p-like orbitals.
      exponents: alpha[s, d, I, k] > 0, envelope decay rates (1/bohr).
    """

    features: jnp.ndarray
    directions: jnp.ndarray
    exponents: jnp.ndarray


class OrbitalGNN(nn.Module):
    """Raw (not yet symmetrized) orbital outputs from descriptors of one spin."""

    config: ModelConfig
    s_index: tuple[int, ...]
    p_index: tuple[tuple[int, int, int], ...]
    n_elements: int

    @nn.compact
    def __call__(self, coords, element_index, descriptors):
        """coords [A, 3] bohr, element_index [A], descriptors [A, K, F] -> raw outputs.

        Returns (f [2, n_det, A, K, D], U [2, n_det, A, K, P, 3], alpha_raw [2, n_det, A, K]).
        """
        cfg = self.config
        n_atoms, n_orb = descriptors.shape[:2]
        n_out = 2 * cfg.n_determinants
        dense = lambda width, name: nn.Dense(width, name=name)  # noqa: E731

        scalars = descriptors[..., jnp.array(self.s_index)]  # [A, K, n_s]
        p_entries = descriptors[..., jnp.array(self.p_index)]  # [A, K, n_p, 3]
        # Learned vector channels: linear mixing of p shells, no bias (keeps equivariance).
        vectors = nn.Dense(cfg.gnn_vector_channels, use_bias=False, name="vector_mix")(
            jnp.swapaxes(p_entries, -1, -2))  # [A, K, 3, C]
        vectors = jnp.swapaxes(vectors, -1, -2)  # [A, K, C, 3]

        bond = coords[None, :, :] - coords[:, None, :]  # R_J - R_I: [A, A, 3]
        not_self = 1.0 - jnp.eye(n_atoms, dtype=coords.dtype)
        distance = safe_norm(bond)
        direction = bond / distance[..., None] * not_self[..., None]  # e_IJ, zero on diagonal
        radial = distance_features(distance, cfg.n_rbf, cfg.gnn_cutoff)  # [A, A, n_rbf+1]

        element = nn.Embed(self.n_elements, cfg.element_embedding, name="element_embed")(
            element_index)  # [A, E]
        node_in = jnp.concatenate([
            scalars,
            jnp.sum(vectors**2, axis=-1),
            jnp.broadcast_to(element[:, None], (n_atoms, n_orb, element.shape[-1])),
        ], axis=-1)
        h = jnp.tanh(dense(cfg.gnn_width, "node_in")(node_in))  # [A, K, W]

        proj_i = jnp.einsum("ikcx,ijx->ijkc", vectors, direction)  # V_Ik . e_IJ
        proj_j = jnp.einsum("jkcx,ijx->ijkc", vectors, direction)  # V_Jk . e_IJ
        overlap = jnp.einsum("ikcx,jkcx->ijkc", vectors, vectors)  # V_Ik . V_Jk
        # Edge features: the radial part [A, A, 1, R] is the same for every orbital, the
        # p-shell invariants [A, A, K, 3C] are not; kept apart (``SplitDense``).
        edge = [radial[:, :, None], jnp.concatenate([proj_i, proj_j, overlap], axis=-1)]
        # Neighbours beyond the cutoff send nothing: node states depend on a bounded
        # neighbourhood, so longer chains than those trained on look locally familiar.
        cutoff_weights = not_self * smooth_cutoff(distance, cfg.gnn_cutoff)  # [A, A]
        message_weights = aggregation_weights(cutoff_weights, cfg.neighbour_mean)[:, :, None, None]

        for layer in range(cfg.gnn_layers):
            edge_filter = SplitDense(cfg.gnn_width, name=f"filter_{layer}")(edge)
            neighbour = dense(cfg.gnn_width, f"neighbour_{layer}")(h)
            message = jnp.sum(message_weights * edge_filter * neighbour[None], axis=1)  # [A, K, W]
            update = dense(cfg.gnn_width, f"update_{layer}")(jnp.concatenate([h, message], -1))
            h = h + jnp.tanh(update)

        n_det, width, n_p = cfg.n_determinants, cfg.embedding_width, cfg.p_channels
        features = dense(n_out * width, "features_out")(h).reshape(
            n_atoms, n_orb, 2, n_det, width)
        exponents = dense(n_out, "exponents_out")(h).reshape(n_atoms, n_orb, 2, n_det)
        weights = dense(n_out * n_p * cfg.gnn_vector_channels, "directions_own")(h).reshape(
            n_atoms, n_orb, 2, n_det, n_p, cfg.gnn_vector_channels)
        own = jnp.einsum("iksdpc,ikcx->iksdpx", weights, vectors)
        bond_weights = SplitDense(n_out * n_p, name="directions_bond")(
            [h[:, None], h[None, :]] + edge)  # [A, A, K, n_out * n_p]
        bond_weights = bond_weights.reshape(n_atoms, n_atoms, n_orb, 2, n_det, n_p) * (
            cutoff_weights[:, :, None, None, None, None])
        along_bonds = jnp.einsum("ijksdp,ijx->iksdpx", bond_weights, direction)
        directions = own + along_bonds

        to_front = lambda x: jnp.moveaxis(jnp.moveaxis(x, 2, 0), 3, 1)  # noqa: E731
        return to_front(features), to_front(directions), to_front(exponents)


def orbital_parameters(gnn: OrbitalGNN, coords, element_index, desc_up, desc_down):
    """OrbitalParameters of a geometry: up and down orbitals concatenated along k.

    One GNN call sees [c_up, c_down, -c_up, -c_down] stacked along the orbital (batch) axis;
    f, U are then made odd and alpha even in each orbital's descriptor. Without
    ``phase_equivariant`` (a baseline) the GNN sees [c_up, c_down] and its outputs are used
    as they are.
    """
    both = jnp.concatenate([desc_up, desc_down], axis=1)
    if not gnn.config.phase_equivariant:
        features, directions, exponents = gnn(coords, element_index, both)
        return OrbitalParameters(features=features, directions=directions,
                                 exponents=jax.nn.softplus(exponents))
    n_orb = both.shape[1]
    features, directions, exponents = gnn(coords, element_index,
                                          jnp.concatenate([both, -both], axis=1))
    plus, minus = (lambda x: x[:, :, :, :n_orb]), (lambda x: x[:, :, :, n_orb:])
    return OrbitalParameters(
        features=0.5 * (plus(features) - minus(features)),
        directions=0.5 * (plus(directions) - minus(directions)),
        exponents=jax.nn.softplus(plus(exponents) + minus(exponents)),
    )
