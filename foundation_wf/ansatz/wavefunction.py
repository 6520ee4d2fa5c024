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
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from foundation_wf.ansatz.embedding import ElectronEmbedding, electron_spins
from foundation_wf.ansatz.geometry import GeometryInput
from foundation_wf.ansatz.gnn import OrbitalGNN, OrbitalParameters, orbital_parameters
from foundation_wf.ansatz.presets import ModelConfig
from foundation_wf.ansatz.radial import safe_norm, smooth_cutoff
from foundation_wf.hf.settings import DescriptorSettings


def log_sum_det(signs: jnp.ndarray, logdets: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """sign and log|sum_d sign_d exp(logdet_d)|, stable for widely different magnitudes."""
    shift = jax.lax.stop_gradient(jnp.max(logdets))
    total = jnp.sum(signs * jnp.exp(logdets - shift))
    return jnp.sign(total), jnp.log(jnp.abs(total)) + shift


def spin_relation(n_up: int, n_electrons: int) -> jnp.ndarray:
    """[N, N] int: 0 where electron i and orbital k have the same spin, 1 otherwise."""
    spin = electron_spins(n_up, n_electrons)
    return (spin[:, None] != spin[None, :]).astype(jnp.int32)


def cusp_jastrow(electrons: jnp.ndarray, n_up: int, scales: jnp.ndarray,
                 cutoff: float) -> jnp.ndarray:
    """sum_{i<j} k a r/(a + r) (1 - r^2/cutoff^2)^3: slope k = 1/4 (parallel), 1/2
    (antiparallel) at r = 0, exactly zero beyond ``cutoff`` (bohr).

    The slopes satisfy Kato's electron-electron cusp conditions exactly (the cutoff factor
    is 1 with zero slope at r = 0); the ranges a = scales[same/opposite] (bohr) are learned.
    """
    n = electrons.shape[0]
    relation = spin_relation(n_up, n)
    slope = jnp.where(relation == 0, 0.25, 0.5).astype(electrons.dtype)
    a = scales[relation]
    r = safe_norm(electrons[:, None] - electrons[None])
    pair = slope * a * r / (a + r) * smooth_cutoff(r, cutoff)
    return 0.5 * jnp.sum(jnp.where(jnp.eye(n, dtype=bool), 0.0, pair))


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

    def embed(self, geometry: GeometryInput, electrons: jnp.ndarray) -> jnp.ndarray:
        """Electron features h [N, embedding_width] of one walker."""
        return self.embedding(electrons, geometry.n_up, geometry.coords, geometry.element_index)

    def slater_matrices(self, orbitals: OrbitalParameters, geometry: GeometryInput,
                        electrons: jnp.ndarray) -> jnp.ndarray:
        """Phi [n_det, N, N] for one walker: electrons [N, 3] bohr, up electrons first."""
        return self.slater_from_embedding(orbitals, geometry, electrons,
                                          self.embed(geometry, electrons))

    def slater_from_embedding(self, orbitals: OrbitalParameters, geometry: GeometryInput,
                              electrons: jnp.ndarray, h: jnp.ndarray) -> jnp.ndarray:
        """Phi [n_det, N, N] from the electron features h [N, embedding_width]."""
        cfg = self.config
        n = electrons.shape[0]
        q = self.direction_weights(h).reshape(n, 2, cfg.n_determinants, cfg.p_channels)
        offset = electrons[:, None] - geometry.coords[None]  # r_i - R_I: [N, A, 3]
        distance = safe_norm(offset)  # [N, A]
        envelope = (jnp.exp(-orbitals.exponents[:, :, None] * distance[None, None, :, :, None])
                    * smooth_cutoff(distance, cfg.orbital_cutoff)[None, None, :, :, None])
        scalar = jnp.einsum("iD,sdakD->sdiak", h, orbitals.features)
        directional = jnp.einsum("isdp,sdakpx,iax->sdiak", q, orbitals.directions, offset)
        phi = jnp.sum(envelope * (scalar + directional), axis=3)  # [2, n_det, N, K]
        relation = spin_relation(geometry.n_up, n)
        down_electron = electron_spins(geometry.n_up, n)[:, None]
        cross = jnp.where(down_electron, cfg.cross_spin_sign * phi[1], phi[1])
        return jnp.where(relation[None] == 0, phi[0], cross)

    def log_psi(self, orbitals: OrbitalParameters, geometry: GeometryInput,
                electrons: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
        """(sign, log|psi|) for one walker, electrons [N, 3] bohr with up electrons first."""
        h = self.embed(geometry, electrons)
        phi = self.slater_from_embedding(orbitals, geometry, electrons, h)
        signs, logdets = jnp.linalg.slogdet(phi)
        sign, log_abs = log_sum_det(signs, logdets)
        scales = jax.nn.softplus(self.jastrow_raw)
        cusp = cusp_jastrow(electrons, geometry.n_up, scales, self.config.orbital_cutoff)
        return sign, log_abs + cusp + self.learned_jastrow(h)

    def learned_jastrow(self, h: jnp.ndarray) -> jnp.ndarray:
        """sum_i u(h_i): a symmetric factor from each electron's features (zero at
        initialisation). A sum of local terms, so it is additive over far-apart fragments;
        h has no slope where electrons meet, so it leaves the cusps to ``cusp_jastrow``."""
        return jnp.sum(self.jastrow_out(jnp.tanh(self.jastrow_hidden(h))))

    def __call__(self, geometry: GeometryInput, electrons: jnp.ndarray):
        return self.log_psi(self.orbitals(geometry), geometry, electrons)
