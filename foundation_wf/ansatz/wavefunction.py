"""The transferable wavefunction: orbital GNN + electron embedding -> sum of determinants.

Slater entries, for determinant d, electron i and orbital k (s = spin relation of i and k):

    Phi[d]_ik = sum_I exp(-alpha[s,d]_Ik |r_i - R_I|) c(|r_i - R_I|)
                      * (<h_i, f[s,d]_Ik> + <q[s,d]_i, U[s,d]_Ik (r_i - R_I)>)

with c the smooth cutoff at ``orbital_cutoff``. Dense determinants over both spins (up and
down orbitals for every electron; the block of down electrons in up orbitals carries the sign
``ModelConfig.cross_spin_sign``), combined by a stable log-sum-exp of slogdets, times a
fixed-cusp electron-electron Jastrow factor of the same range and a learned factor
exp(sum_i u(h_i)) of the electron features.

Locality: an orbital localized on fragment B has features f = 0 on the atoms of a far
fragment A (f is odd in the orbital's descriptors, which vanish there, and the GNN's messages
are local), and its envelopes vanish beyond ``orbital_cutoff``; so for fragments far apart
the Slater matrix is block diagonal, det = det_A det_B, and with one determinant
psi(A+B) = +-psi(A) psi(B).

Stages (``log_psi``): what depends on one electron only (``electron_features``: its
electron-nucleus features, and the envelope weights, used only through sums over atoms or
p channels weighted by them), what depends on one electron pair only (``pair_features``,
functions of r_ij^2 and the pair's spin relation, used only through sums over each
electron's neighbours), then the rest (``log_psi_from_features``). The forward Laplacian
differentiates the first two in 3 coordinates or one variable instead of 3N
(``vmc.hamiltonian.LocalParts``).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from foundation_wf.ansatz.embedding import ElectronEmbedding, electron_spins, same_spin_pairs
from foundation_wf.ansatz.geometry import GeometryInput
from foundation_wf.ansatz.gnn import OrbitalGNN, OrbitalParameters, orbital_parameters
from foundation_wf.ansatz.pairs import (contraction, row_sums, squared_distances,
                                        weighted_sums)
from foundation_wf.ansatz.presets import ModelConfig
from foundation_wf.ansatz.radial import NORM_EPSILON_SQ, safe_norm, smooth_cutoff
from foundation_wf.hf.settings import DescriptorSettings


class OrbitalEnvelopes(NamedTuple):
    """An electron's envelope weights of the Slater entries, [M, 2, n_det, K, L] for
    electrons [M, 3]: Phi_ik = sum_I scalar_ikI <h_i, f_Ik> + sum_p directional_ikp q_ip.

    scalar: exp(-alpha_Ik |r_i - R_I|) c(|r_i - R_I|), I (atoms) last;
    directional: sum_I scalar_ikI (U_Ikp . (r_i - R_I)), p (channels) last.
    """

    scalar: jnp.ndarray
    directional: jnp.ndarray


def log_sum_det(signs: jnp.ndarray, logdets: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """sign and log|sum_d sign_d exp(logdet_d)|, stable for widely different magnitudes."""
    shift = jax.lax.stop_gradient(jnp.max(logdets))
    total = jnp.sum(signs * jnp.exp(logdets - shift))
    return jnp.sign(total), jnp.log(jnp.abs(total)) + shift


def spin_relation(n_up: int, n_electrons: int) -> jnp.ndarray:
    """[N, N] int: 0 where electron i and orbital k have the same spin, 1 otherwise."""
    return (~same_spin_pairs(n_up, n_electrons)).astype(jnp.int32)


def cusp_jastrow_pairs(distance_sq: jnp.ndarray, same_spin: jnp.ndarray, scales: jnp.ndarray,
                       cutoff: float) -> jnp.ndarray:
    """The pair terms k a r/(a + r) (1 - r^2/cutoff^2)^3 of the cusp Jastrow factor, from
    squared distances r^2 [...] bohr^2 and same-spin flags [...] -> [...].

    Slope k = 1/4 (parallel), 1/2 (antiparallel) at r = 0, exactly zero beyond ``cutoff``
    (bohr): Kato's electron-electron cusp conditions hold exactly (the cutoff factor is 1
    with zero slope at r = 0); the ranges a = scales[parallel / antiparallel] (bohr) are
    learned. The factor is the sum over pairs i < j: half the sum of every electron's
    ``pairs.row_sums``.
    """
    r = jnp.sqrt(distance_sq + NORM_EPSILON_SQ)
    slope = jnp.where(same_spin, 0.25, 0.5).astype(distance_sq.dtype)
    a = jnp.where(same_spin, scales[0], scales[1])
    return slope * a * r / (a + r) * smooth_cutoff(r, cutoff)


class TransferableWavefunction(nn.Module):
    """One parameter set for every molecule whose elements lie in ``settings.elements``."""

    config: ModelConfig
    settings: DescriptorSettings

    def setup(self):
        layout = self.settings.layout
        n_elements = len(self.settings.elements)
        self.gnn = OrbitalGNN(
            self.config,
            s_index=tuple(int(i) for i in layout.s_index),
            p_index=tuple(tuple(int(i) for i in row) for row in layout.p_index),
            n_elements=n_elements,
        )
        self.embedding = ElectronEmbedding(self.config, n_elements=n_elements)
        cfg = self.config
        self.direction_weights = nn.Dense(2 * cfg.n_determinants * cfg.p_channels,
                                          name="direction_weights")
        self.jastrow_raw = self.param("jastrow_raw", nn.initializers.ones, (2,))
        self.jastrow_hidden = nn.Dense(cfg.embedding_width, name="jastrow_hidden")
        self.jastrow_out = nn.Dense(1, use_bias=False, kernel_init=nn.initializers.zeros,
                                    name="jastrow_out")

    def orbitals(self, geometry: GeometryInput) -> OrbitalParameters:
        """The per-geometry part (run once per geometry, never per walker)."""
        return orbital_parameters(self.gnn, geometry.coords, geometry.element_index,
                                  geometry.desc_up, geometry.desc_down)

    def electron_features(self, orbitals: OrbitalParameters, geometry: GeometryInput,
                          electrons: jnp.ndarray) -> tuple:
        """What depends on one electron's position only, for electrons [M, 3] bohr (row m a
        function of electrons[m]): (h0, OrbitalEnvelopes), the electron-nucleus features
        h0 [M, W] and the orbitals' envelope weights, which the network uses only through
        ``pairs.weighted_sums``."""
        h0 = self.embedding.electron_nucleus_features(electrons, geometry.coords,
                                                      geometry.element_index)
        offset = electrons[:, None] - geometry.coords[None]  # [M, A, 3]
        distance = safe_norm(offset)  # [M, A]
        # Atoms last: [M, 2, n_det, K, A].
        envelope = (jnp.exp(-jnp.swapaxes(orbitals.exponents, -1, -2)[None]
                            * distance[:, None, None, None, :])
                    * smooth_cutoff(distance, self.config.orbital_cutoff)[:, None, None, None, :])
        # U_Ikp . (r_i - R_I), then summed over atoms with the envelopes: broadcast products
        # (XLA's CPU batched matmuls are slow at these sizes).
        directions = jnp.moveaxis(orbitals.directions, 2, 3)  # [2, n_det, K, A, P, 3]
        projected = jnp.sum(directions[None] * offset[:, None, None, None, :, None, :], axis=-1)
        directional = jnp.sum(envelope[..., None] * projected, axis=4)  # [M, 2, n_det, K, P]
        return h0, OrbitalEnvelopes(envelope, directional)

    def pair_features(self, distance_sq: jnp.ndarray, same_spin: jnp.ndarray) -> tuple:
        """What depends on one electron pair only, from its squared distance r_ij^2 [...]
        bohr^2 and same-spin flag [...]: (summed, contracted), where the network uses
        ``summed`` (the embedding's PairWeights and the cusp Jastrow's terms, each [...]) only
        through its sums over each electron's neighbours, and ``contracted`` (PairFilters
        [..., L, Wp]) only through ``pairs.contraction`` (see ``local_features``)."""
        weights, filters = self.embedding.pair_features(distance_sq, same_spin)
        scales = jax.nn.softplus(self.jastrow_raw)
        cusp = cusp_jastrow_pairs(distance_sq, same_spin, scales, self.config.orbital_cutoff)
        return (weights, cusp), filters

    def local_features(self, orbitals: OrbitalParameters, geometry: GeometryInput,
                       electrons: jnp.ndarray) -> tuple:
        """(h0, row sums of the summed pair features [N], contraction of the contracted
        ones, weighted sums of the envelopes): the arguments of ``log_psi_from_features``."""
        n = electrons.shape[0]
        summed, contracted = self.pair_features(squared_distances(electrons),
                                                same_spin_pairs(geometry.n_up, n))
        h0, envelopes = self.electron_features(orbitals, geometry, electrons)
        return h0, row_sums(summed), contraction(contracted), weighted_sums(envelopes)

    def slater_and_embedding(self, orbitals: OrbitalParameters, geometry: GeometryInput,
                             h0: jnp.ndarray, sums: tuple, contract: Callable,
                             weigh: Callable) -> tuple[jnp.ndarray, jnp.ndarray]:
        """(Phi [n_det, N, N], electron features h [N, W]) from ``local_features``."""
        cfg = self.config
        h = self.embedding.message_passing(h0, sums[0], contract)
        n = h.shape[0]
        q = self.direction_weights(h).reshape(n, 2, cfg.n_determinants, cfg.p_channels)
        # <h_i, f_Ik> for every atom I, with I last: [N, 2, n_det, K, A].
        scalar = jnp.einsum("iD,sdkaD->isdka", h, jnp.swapaxes(orbitals.features, 2, 3))
        phi = (weigh(lambda e: e.scalar, scalar)
               + weigh(lambda e: e.directional, q[:, :, :, None, :]))  # [N, 2, n_det, K]
        phi = jnp.moveaxis(phi, 0, 2)  # [2, n_det, N, K]
        relation = spin_relation(geometry.n_up, n)
        down_electron = electron_spins(geometry.n_up, n)[:, None]
        cross = jnp.where(down_electron, cfg.cross_spin_sign * phi[1], phi[1])
        return jnp.where(relation[None] == 0, phi[0], cross), h

    def slater_matrices(self, orbitals: OrbitalParameters, geometry: GeometryInput,
                        electrons: jnp.ndarray) -> jnp.ndarray:
        """Phi [n_det, N, N] for one walker: electrons [N, 3] bohr, up electrons first."""
        return self.slater_and_embedding(
            orbitals, geometry, *self.local_features(orbitals, geometry, electrons))[0]

    def log_psi_from_features(self, orbitals: OrbitalParameters, geometry: GeometryInput,
                              h0: jnp.ndarray, sums: tuple, contract: Callable,
                              weigh: Callable) -> tuple[jnp.ndarray, jnp.ndarray]:
        """(sign, log|psi|) of one walker from ``local_features``."""
        phi, h = self.slater_and_embedding(orbitals, geometry, h0, sums, contract, weigh)
        signs, logdets = jnp.linalg.slogdet(phi)
        sign, log_abs = log_sum_det(signs, logdets)
        cusp = 0.5 * jnp.sum(sums[1])
        return sign, log_abs + cusp + self.learned_jastrow(h)

    def log_psi(self, orbitals: OrbitalParameters, geometry: GeometryInput,
                electrons: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        """(sign, log|psi|) for one walker, electrons [N, 3] bohr with up electrons first."""
        return self.log_psi_from_features(
            orbitals, geometry, *self.local_features(orbitals, geometry, electrons))

    def learned_jastrow(self, h: jnp.ndarray) -> jnp.ndarray:
        """sum_i u(h_i): a symmetric factor from each electron's features (zero at
        initialisation). A sum of local terms, so it is additive over far-apart fragments;
        h has no slope where electrons meet, so it leaves the cusps to ``cusp_jastrow_pairs``."""
        return jnp.sum(self.jastrow_out(jnp.tanh(self.jastrow_hidden(h))))

    def __call__(self, geometry: GeometryInput, electrons: jnp.ndarray):
        return self.log_psi(self.orbitals(geometry), geometry, electrons)
