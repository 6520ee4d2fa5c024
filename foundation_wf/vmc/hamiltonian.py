"""Local energy E_L = -1/2 (lap log|psi| + |grad log|psi||^2) + V, in hartree.

Two Laplacians: the forward Laplacian (default, one pass; folx, fed local parts whose
derivatives are taken in 3 coordinates or one variable instead of 3N, ``LocalParts``) and a
jvp-over-grad loop over the 3N coordinates (the reference); they agree to float precision.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import folx
import jax
import jax.numpy as jnp
import kfac_jax
from folx.api import FwdJacobian, FwdLaplArray

from foundation_wf.ansatz.embedding import same_spin_pairs
from foundation_wf.ansatz.pairs import (contraction, off_diagonal, row_sums, squared_distances,
                                        symmetric_from_pairs, unordered_pairs, weighted_sums)

LAPLACIANS = ("forward", "loop")


def potential_energy(electrons: jnp.ndarray, coords: jnp.ndarray,
                     charges: jnp.ndarray) -> jnp.ndarray:
    """Coulomb energy (hartree) of electrons [N, 3] and nuclei coords [A, 3], charges [A]."""
    n, n_atoms = electrons.shape[0], coords.shape[0]
    eye_e = jnp.eye(n, dtype=electrons.dtype)[..., None]
    r_ee = jnp.linalg.norm(electrons[:, None] - electrons[None] + eye_e, axis=-1)
    v_ee = jnp.sum(jnp.triu(1.0 / r_ee, k=1))
    r_en = jnp.linalg.norm(electrons[:, None] - coords[None], axis=-1)
    v_en = -jnp.sum(charges / r_en)
    eye_n = jnp.eye(n_atoms, dtype=coords.dtype)[..., None]
    r_nn = jnp.linalg.norm(coords[:, None] - coords[None] + eye_n, axis=-1)
    v_nn = jnp.sum(jnp.triu(charges[:, None] * charges[None] / r_nn, k=1))
    return v_ee + v_en + v_nn


class LocalParts(NamedTuple):
    """log|psi| of one walker split by what each part depends on:

        log|psi|(x) = combine(direct, row_sums(summed), contraction(contracted),
                              weighted_sums(weights)),
        (direct, weights) = electron(x),
        (summed, contracted) = pair(|x_i - x_j|^2, same_spin_ij) for every ordered pair

    electron: electrons [M, 3] bohr -> (direct, weights), pytrees of [M, ...] arrays, row m a
      function of electrons[m] only;
    pair: (squared distances [...] bohr^2, same-spin flags [...]) -> (summed, contracted),
      pytrees of [..., ...] arrays, elementwise over the leading axes;
    combine: (direct, row sums sum_{j != i} summed_ij [N, ...], contract, weigh) -> log|psi|,
      where contract(select, v) = sum_{j != i} select(contracted)_ij v_j and
      weigh(select, t) = sum over the last axis of select(weights) * t (``ansatz.pairs``):
      select indexes trailing axes only, and v [N, ...] and t [N, ...] depend on the
      electrons;
    n_up: the number of up electrons (the first n_up rows).

    The forward Laplacian takes the electron part's derivatives in each electron's 3
    coordinates and the pair part's in its one variable s (not in all 3N), and never builds
    the pair features' or the weights' 3N-long gradients (``row_sum_jet``,
    ``pair_contraction_with_jets``, ``weighted_sum_with_jets``).
    """

    electron: Callable
    pair: Callable
    combine: Callable
    n_up: int

    def log_abs(self, electrons: jnp.ndarray) -> jnp.ndarray:
        """log|psi| of electrons [N, 3] bohr."""
        direct, weights = self.electron(electrons)
        summed, contracted = self.pair(squared_distances(electrons),
                                       same_spin_pairs(self.n_up, electrons.shape[0]))
        return self.combine(direct, row_sums(summed), contraction(contracted),
                            weighted_sums(weights))


def whole_function(log_abs: Callable[[jnp.ndarray], jnp.ndarray]) -> LocalParts:
    """A log|psi| of the flat coordinates [3N] as LocalParts with no local part."""
    return LocalParts(electron=lambda electrons: (electrons, ()),
                      pair=lambda distance_sq, same_spin: ((), ()),
                      combine=lambda electrons, sums, contract, weigh: log_abs(
                          electrons.reshape(-1)),
                      n_up=0)


def _is_jet(x) -> bool:
    return isinstance(x, FwdLaplArray)


def electron_jets(electron: Callable, electrons: jnp.ndarray) -> tuple:
    """The electron part's derivatives from those in each electron's own 3 coordinates:
    (direct, weights), direct a pytree of FwdLaplArray in all 3N coordinates (Jacobians
    [3N, N, ...]), weights three pytrees (values [N, ...], gradients [N, 3, ...] in the row's
    own electron, Laplacians [N, ...]) for ``weighted_sum_with_jets``."""
    n = electrons.shape[0]
    one_row = lambda r: jax.tree_util.tree_map(lambda a: a[0], electron(r[None]))  # noqa: E731
    direct, weights = jax.vmap(folx.forward_laplacian(one_row, disable_jit=True))(electrons)
    eye = jnp.eye(n, dtype=electrons.dtype)

    def lift(jet):
        jacobian = jnp.einsum("ij,ic...->icj...", eye, jet.jacobian.dense_array)
        return FwdLaplArray(jet.x, FwdJacobian.from_dense(jacobian.reshape((3 * n,) + jet.shape)),
                            jet.laplacian)

    fields = [jax.tree_util.tree_map(field, weights, is_leaf=_is_jet) for field in (
        lambda jet: jet.x, lambda jet: jet.jacobian.dense_array, lambda jet: jet.laplacian)]
    return jax.tree_util.tree_map(lift, direct, is_leaf=_is_jet), fields


class PairJet(NamedTuple):
    """A pair feature P(u) of u = r_i - r_j for every ordered pair: value [N, N, ...], slope
    dP/du [N, N, 3, ...] and Laplacian in u [N, N, ...] (in r_i and r_j together, twice it)."""

    value: jnp.ndarray
    slope: jnp.ndarray
    laplacian: jnp.ndarray


def pair_jets(pair: Callable, electrons: jnp.ndarray, n_up: int) -> tuple:
    """(summed, contracted) of ``LocalParts.pair`` for every ordered pair, as PairJet pytrees.

    The pair part is a function P(s) of s = |u|^2, u = r_i - r_j: P, P' and P'' come from two
    nested jvps in s (once per unordered pair, as P_ij = P_ji), and then dP/du = 2 P' u and
    lap_u P = 4 s P'' + 6 P'.
    """
    n = electrons.shape[0]
    differences = electrons[:, None] - electrons[None]  # [N, N, 3]
    distance_sq = jnp.sum(differences * differences, axis=-1)
    i, j = unordered_pairs(n)
    same_spin = same_spin_pairs(n_up, n)[i, j]
    ones = jnp.ones(len(i), distance_sq.dtype)
    first = lambda s: jax.jvp(lambda s: pair(s, same_spin), (s,), (ones,))  # noqa: E731
    (value, slope), (_, curvature) = jax.jvp(first, (distance_sq[i, j],), (ones,))
    value, slope, curvature = jax.tree_util.tree_map(
        lambda f: symmetric_from_pairs(f, n), (value, slope, curvature))

    def jet(p, dp, d2p):
        extra = (1,) * (p.ndim - 2)
        u = differences.reshape(differences.shape + extra)
        s = distance_sq.reshape(distance_sq.shape + extra)
        return PairJet(p, 2.0 * dp[:, :, None] * u, 4.0 * s * d2p + 6.0 * dp)

    return jax.tree_util.tree_map(jet, value, slope, curvature)


def row_sum_jet(jet: PairJet) -> FwdLaplArray:
    """sum_{j != i} P_ij [N, ...] with gradient [3N, N, ...] and Laplacian in all 3N
    coordinates: d/dr_k of P(r_i - r_j) is (delta_ki - delta_kj) dP/du."""
    n = jet.value.shape[0]
    slope = off_diagonal(jet.slope)
    own = jnp.einsum("ki,ia...->kai...", jnp.eye(n, dtype=slope.dtype), jnp.sum(slope, axis=1))
    jacobian = own - jnp.moveaxis(slope, 0, 2)  # [k, a, i, ...]
    value = jnp.sum(off_diagonal(jet.value), axis=1)
    return FwdLaplArray(value, FwdJacobian.from_dense(jacobian.reshape((3 * n,) + value.shape)),
                        2.0 * jnp.sum(off_diagonal(jet.laplacian), axis=1))


def rule_arguments(args, name: str) -> tuple:
    """(local jet fields, x, x's gradient [N, 3, N, ...]) of a folx rule's arguments: three
    local jet fields, constant to folx, then one FwdLaplArray x [N, ...] in all 3N
    coordinates (the gradient reshaped as [k, a, i, ...] = dx_i/dr_ka)."""
    *fields, x = args
    if any(_is_jet(a) for a in fields) or not _is_jet(x):
        raise TypeError(f"{name}: the local jets must be constant to folx and the last "
                        "argument must depend on the electrons")
    n = x.shape[0]
    return fields, x, x.jacobian.dense_array.reshape((n, 3) + x.shape)


@jax.jit
def pair_contraction_with_jets(value: jnp.ndarray, slope: jnp.ndarray, laplacian: jnp.ndarray,
                               v: jnp.ndarray) -> jnp.ndarray:
    """sum_{j != i} P_ij v_j for a PairJet's fields and v [N, ...]. Inside folx's forward
    Laplacian its derivatives come from ``contraction_jets`` (registered under this name)."""
    del slope, laplacian  # used by contraction_jets only
    return contraction(value)(lambda p: p, v)


def contraction_jets(args, kwargs, sparsity_threshold) -> FwdLaplArray:
    """folx rule of ``pair_contraction_with_jets``: y_i = sum_{j != i} P_ij v_j with v's
    gradient [3N, N, ...] and P's in its pair's 3 coordinates only.

    With G_ija = dP_ij/du_a (u = r_i - r_j) and v's gradient V[k, a, j] = dv_j/dr_ka:
      dy_i/dr_ka = delta_ki sum_j G_ija v_j - G_ika v_k + sum_j P_ij V[k, a, j]
      lap y_i = sum_j (2 lap_u P_ij v_j + P_ij lap v_j
                       + 2 sum_a G_ija (V[i, a, j] - V[j, a, j]))
    The one term of size 3N x N^2 is a contraction; P's 3N-long gradient is never built.
    """
    del kwargs, sparsity_threshold
    (value, slope, laplacian), v, v_gradient = rule_arguments(args, "pair_contraction_with_jets")
    n = value.shape[0]
    value, slope, laplacian = off_diagonal(value), off_diagonal(slope), off_diagonal(laplacian)
    # Broadcast products summed over j (XLA's CPU batched matmuls are slow at these sizes).
    y = jnp.sum(value * v.x[None], axis=1)
    slope_v = slope * v.x[None, :, None]  # [i, j, a, ...]: G_ija v_j
    own = jnp.moveaxis(jnp.sum(slope_v, axis=1), 1, 0)  # [a, i, ...]
    eye = jnp.eye(n, dtype=bool).reshape((n, 1, n) + (1,) * (own.ndim - 2))
    gradient = (jnp.where(eye, own[None], 0.0) - jnp.moveaxis(slope_v, 0, 2)  # [k, a, i, ...]
                + jnp.sum(value[None, None] * v_gradient[:, :, None], axis=3))
    v_own = v_gradient[jnp.arange(n), :, jnp.arange(n)]  # [j, a, ...]: dv_j/dr_ja
    v_difference = jnp.moveaxis(v_gradient, 2, 1) - v_own[None]  # [i, j, a, ...]
    lap = jnp.sum(2.0 * laplacian * v.x[None] + value * v.laplacian[None]
                  + 2.0 * jnp.sum(slope * v_difference, axis=2), axis=1)
    return FwdLaplArray(y, FwdJacobian.from_dense(gradient.reshape((3 * n,) + y.shape)), lap)


folx.register_function("pair_contraction_with_jets", contraction_jets)


@jax.jit
def weighted_sum_with_jets(value: jnp.ndarray, gradient: jnp.ndarray, laplacian: jnp.ndarray,
                           t: jnp.ndarray) -> jnp.ndarray:
    """sum over the last axis of w * t for one-electron weights w (value [N, ...], gradient
    [N, 3, ...] in row i's own electron, Laplacian [N, ...]) and t [N, ...] broadcasting
    against them. Inside folx's forward Laplacian its derivatives come from
    ``weighted_sum_jets`` (registered under this name)."""
    del gradient, laplacian  # used by weighted_sum_jets only
    return jnp.sum(value * t, axis=-1)


def weighted_sum_jets(args, kwargs, sparsity_threshold) -> FwdLaplArray:
    """folx rule of ``weighted_sum_with_jets``: y_i = sum_a w_ia t_ia with t's gradient
    [3N, N, ...] and w_i's in electron i's 3 coordinates only.

    With W_iac = dw_ia/dr_ic and T[k, c, i, a] = dt_ia/dr_kc:
      dy_i/dr_kc = delta_ki sum_a W_iac t_ia + sum_a w_ia T[k, c, i, a]
      lap y_i = sum_a (lap w_ia t_ia + w_ia lap t_ia + 2 sum_c W_iac T[i, c, i, a])
    w's 3N-long gradient, mostly zeros, is never built.
    """
    del kwargs, sparsity_threshold
    (value, gradient, laplacian), t, t_gradient = rule_arguments(args, "weighted_sum_with_jets")
    n = value.shape[0]
    y = jnp.sum(value * t.x, axis=-1)
    own = jnp.moveaxis(jnp.sum(gradient * t.x[:, None], axis=-1), 1, 0)  # [c, i, ...]
    eye = jnp.eye(n, dtype=bool).reshape((n, 1, n) + (1,) * (own.ndim - 2))
    grad = (jnp.where(eye, own[None], 0.0)
            + jnp.sum(value[None, None] * t_gradient, axis=-1))  # [k, c, i, ...]
    t_own = t_gradient[jnp.arange(n), :, jnp.arange(n)]  # [i, c, ...]: dt_i/dr_ic
    lap = jnp.sum(laplacian * t.x + value * t.laplacian
                  + 2.0 * jnp.sum(gradient * t_own, axis=1), axis=-1)
    return FwdLaplArray(y, FwdJacobian.from_dense(grad.reshape((3 * n,) + y.shape)), lap)


folx.register_function("weighted_sum_with_jets", weighted_sum_jets)


def kfac_tag_jets(args, kwargs, sparsity_threshold):
    """folx rule of KFAC's layer tags (``ansatz.layers.kfac_dense_tag``): the identity on the
    tagged output, as outside KFAC (folx would otherwise take the tag's full Hessian)."""
    del sparsity_threshold
    [output] = kfac_jax.layers_and_loss_tags.layer_tag.layer_data(args, kwargs).outputs
    return output


folx.register_function(kfac_jax.layers_and_loss_tags.layer_tag, kfac_tag_jets)


def kinetic_energy(parts: LocalParts, electrons: jnp.ndarray,
                   laplacian: str = "forward") -> jnp.ndarray:
    """-1/2 (lap + |grad|^2) of log|psi| at electrons [N, 3] bohr (hartree).

    "forward": folx's forward Laplacian of ``parts.combine``, fed the electron part's jets
    (``electron_jets``), the row sums of the summed pair part (``row_sum_jet``), the
    contracted pair part's PairJets (``pair_contraction_with_jets``) and the weights' jets in
    their own electron's coordinates (``weighted_sum_with_jets``). "loop": a jvp-over-grad
    loop over the 3N coordinates of ``parts.log_abs`` (the reference).
    """
    if laplacian == "forward":
        summed, contracted = pair_jets(parts.pair, electrons, parts.n_up)
        sums = jax.tree_util.tree_map(row_sum_jet, summed,
                                      is_leaf=lambda x: isinstance(x, PairJet))
        pair_fields = [jax.tree_util.tree_map(lambda jet, i=i: jet[i], contracted,
                                              is_leaf=lambda x: isinstance(x, PairJet))
                       for i in range(3)]
        direct, weight_fields = electron_jets(parts.electron, electrons)

        def combine(direct, sums, pair_fields, weight_fields):
            contract = lambda select, v: pair_contraction_with_jets(  # noqa: E731
                *(select(field) for field in pair_fields), v)
            weigh = lambda select, t: weighted_sum_with_jets(  # noqa: E731
                *(select(field) for field in weight_fields), t)
            return parts.combine(direct, sums, contract, weigh)

        result = folx.forward_laplacian(combine, disable_jit=True)(
            direct, sums, pair_fields, weight_fields)
        return -0.5 * (result.laplacian + jnp.sum(result.jacobian.dense_array ** 2))
    if laplacian == "loop":
        shape = electrons.shape
        grad = jax.grad(lambda x: parts.log_abs(x.reshape(shape)))
        x = electrons.reshape(-1)
        eye = jnp.eye(x.shape[0], dtype=x.dtype)

        def add_diagonal(i, total):
            return total + jax.jvp(grad, (x,), (eye[i],))[1][i]

        lap = jax.lax.fori_loop(0, x.shape[0], add_diagonal, jnp.zeros((), x.dtype))
        return -0.5 * (lap + jnp.sum(grad(x) ** 2))
    raise ValueError(f"laplacian must be one of {LAPLACIANS}, got {laplacian!r}")


def make_local_energy(local_parts: Callable, laplacian: str = "forward") -> Callable:
    """E_L(params, orbitals, geometry, electrons [N, 3]) of one walker (hartree), for
    ``local_parts(params, orbitals, geometry) -> LocalParts``."""
    if laplacian not in LAPLACIANS:
        raise ValueError(f"laplacian must be one of {LAPLACIANS}, got {laplacian!r}")

    def local_energy(params, orbitals, geometry, electrons):
        kinetic = kinetic_energy(local_parts(params, orbitals, geometry), electrons, laplacian)
        return kinetic + potential_energy(electrons, geometry.coords, geometry.charges)

    return local_energy
