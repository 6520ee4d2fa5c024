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

from typing import Callable, NamedTuple

import flax.linen as nn
import jax.numpy as jnp

from foundation_wf.ansatz.layers import DenseParameters, SplitDense, stacked_dense
from foundation_wf.ansatz.pairs import contraction, row_sums, squared_distances
from foundation_wf.ansatz.presets import ModelConfig
from foundation_wf.ansatz.radial import (aggregation_weights, even_radial_basis, radial_basis,
                                         safe_norm, smooth_cutoff, smooth_cutoff_sq)


def electron_spins(n_up: int, n_electrons: int) -> jnp.ndarray:
    """[N] bool: True for down electrons (electrons are ordered up first)."""
    return jnp.arange(n_electrons) >= n_up


class PairWeights(NamedTuple):
    """Smooth cutoff weights c(r_ij) of same-spin and opposite-spin pairs (zero for the
    other relation); as pair features [...] or summed over an electron's neighbours [N]."""

    same: jnp.ndarray
    opposite: jnp.ndarray


class PairFilters(NamedTuple):
    """Cutoff weight times message filter, c(r_ij) F_l(r_ij^2), of same-spin and
    opposite-spin pairs (zero for the other relation): [..., embedding_layers, pair_width]."""

    same: jnp.ndarray
    opposite: jnp.ndarray


def same_spin_pairs(n_up: int, n_electrons: int) -> jnp.ndarray:
    """[N, N] bool: True where electrons i and j have the same spin."""
    spin = electron_spins(n_up, n_electrons)
    return spin[:, None] == spin[None, :]


class ElectronEmbedding(nn.Module):
    """Electron positions -> per-electron features h [N, embedding_width].

    Built in stages so that the forward Laplacian can take derivatives of the first ones in
    3 coordinates instead of 3N (``vmc.hamiltonian``): ``electron_nucleus_features`` (row m
    a function of one electron's position) and ``pair_features`` (a function of one pair's
    squared distance and spin relation), then ``message_passing``, which sees the pair
    features only through sums over each electron's neighbours (``ansatz.pairs``).
    """

    config: ModelConfig
    n_elements: int

    def setup(self):
        cfg = self.config
        self.element_embed = nn.Embed(self.n_elements, cfg.element_embedding)
        # Dense layers (``ansatz.layers``: nn.Dense's parameters and KFAC blocks, inputs
        # taken in parts or layers applied together). Parameter names filter_l, value_l,
        # one_l (lists are named attribute_index).
        self.electron_nucleus = SplitDense(cfg.embedding_width, kfac_tag=True)
        self.filter = [DenseParameters(cfg.pair_width) for _ in range(cfg.embedding_layers)]
        self.value = [SplitDense(cfg.pair_width, kfac_tag=True)
                      for _ in range(cfg.embedding_layers)]
        self.one = [SplitDense(cfg.embedding_width, kfac_tag=True)
                    for _ in range(cfg.embedding_layers)]

    def electron_nucleus_features(self, electrons, coords, element_index):
        """Electrons [M, 3], nuclei coords [A, 3] bohr, element_index [A] -> h0 [M, W]:
        a local mean over the atoms within the cutoff, row m a function of electrons[m]."""
        cfg = self.config
        distance_en = safe_norm(electrons[:, None] - coords[None])  # [M, A]
        # Inputs [distance, its radial basis, the atom's element embedding] (the element
        # part multiplied once per atom).
        per_atom = jnp.tanh(self.electron_nucleus([
            distance_en[..., None],
            radial_basis(distance_en, cfg.n_rbf, cfg.embedding_cutoff),
            self.element_embed(element_index)[None],
        ]))
        atom_weights = aggregation_weights(
            smooth_cutoff(distance_en, cfg.embedding_cutoff), cfg.neighbour_mean)  # [M, A]
        return jnp.einsum("ia,iaw->iw", atom_weights, per_atom)

    def pair_features(self, distance_sq, same_spin) -> tuple[PairWeights, PairFilters]:
        """Squared electron-electron distances r_ij^2 [...] bohr^2 and same-spin flags [...]
        -> (PairWeights [...], PairFilters [..., L, Wp]); the filters are functions of r_ij^2
        (Gaussians), so they add no cusp where two electrons meet."""
        cfg = self.config
        weight = smooth_cutoff_sq(distance_sq, cfg.embedding_cutoff)
        pair = even_radial_basis(distance_sq, cfg.n_rbf, cfg.embedding_cutoff)
        filters = jnp.tanh(stacked_dense(self.filter, pair))
        weights = PairWeights(jnp.where(same_spin, weight, 0.0),
                              jnp.where(same_spin, 0.0, weight))
        return weights, PairFilters(weights.same[..., None, None] * filters,
                                    weights.opposite[..., None, None] * filters)

    def message_passing(self, h, weight_sums: PairWeights, contract: Callable):
        """h0 [N, W], each electron's summed neighbour weights (PairWeights of [N]) and
        ``contract(select, v)`` = sum_{j != i} select(PairFilters)_ij v_j -> h [N, W].

        Messages from same-spin and opposite-spin neighbours are local means
        sum_j c_ij F_ij v_j / (1 + sum_j c_ij) (``radial.neighbour_weights``).
        """
        for layer in range(self.config.embedding_layers):
            values = self.value[layer]([h])  # [N, Wp]
            from_same = (contract(lambda f: f.same[..., layer, :], values)
                         / (1.0 + weight_sums.same[:, None]))
            from_opposite = (contract(lambda f: f.opposite[..., layer, :], values)
                             / (1.0 + weight_sums.opposite[:, None]))
            update = self.one[layer]([h, from_same, from_opposite])
            h = h + jnp.tanh(update)
        return h

    def __call__(self, electrons, n_up: int, coords, element_index):
        """electrons [N, 3] (up first), coords [A, 3] bohr, element_index [A] -> h [N, W]."""
        h = self.electron_nucleus_features(electrons, coords, element_index)
        weights, filters = self.pair_features(squared_distances(electrons),
                                              same_spin_pairs(n_up, electrons.shape[0]))
        return self.message_passing(h, row_sums(weights), contraction(filters))
