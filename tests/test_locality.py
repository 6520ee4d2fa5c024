"""Locality and cusps of the ansatz (float64): far-apart fragments factorise and their
energies add; the local energy stays bounded where two electrons meet."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import perturbed
from foundation_wf import Molecule
from foundation_wf.ansatz import GeometryInput, geometry_input, make_ansatz, model_preset
from foundation_wf.ansatz.embedding import ElectronEmbedding
from foundation_wf.data.generators import hydrogen_chain
from foundation_wf.hf import DescriptorSettings, geometry_hf
from foundation_wf.train import compiled as compiled_functions
from foundation_wf.vmc import mcmc
from foundation_wf.vmc.hamiltonian import potential_energy

SETTINGS = DescriptorSettings()
SEPARATION = 50.0  # bohr, beyond every cutoff of every preset (GNN: 3 layers x 6 bohr)
H2 = Molecule.from_symbols(["H", "H"], [[0, 0, 0], [0, 0, 1.4]], unit="bohr")
LIH = Molecule.from_symbols(["Li", "H"], [[0, 0, 0], [0, 0, 3.015]], unit="bohr")


def geometry(molecule: Molecule) -> GeometryInput:
    return geometry_input(molecule, geometry_hf(molecule, SETTINGS), SETTINGS, jnp.float64)


def shifted(molecule: Molecule, offset) -> Molecule:
    return molecule.with_coords(molecule.coords + np.asarray(offset))


def joined(a: GeometryInput, b: GeometryInput) -> GeometryInput:
    """A+B with each fragment's own HF orbitals (zero descriptors on the other's atoms)."""
    def block(da, db):
        top = jnp.concatenate([da, jnp.zeros((da.shape[0], db.shape[1], da.shape[2]))], 1)
        bottom = jnp.concatenate([jnp.zeros((db.shape[0], da.shape[1], da.shape[2])), db], 1)
        return jnp.concatenate([top, bottom], 0)
    return GeometryInput(
        coords=jnp.concatenate([a.coords, b.coords]),
        charges=jnp.concatenate([a.charges, b.charges]),
        element_index=jnp.concatenate([a.element_index, b.element_index]),
        desc_up=block(a.desc_up, b.desc_up), desc_down=block(a.desc_down, b.desc_down))


def joined_electrons(xa, xb, a: GeometryInput, b: GeometryInput):
    """Walkers of A+B (up electrons of A, of B, then down electrons of A, of B)."""
    return jnp.concatenate([xa[:, :a.n_up], xb[:, :b.n_up], xa[:, a.n_up:], xb[:, b.n_up:]], 1)


def random_params(ansatz, geo, seed):
    return perturbed(ansatz.init(jax.random.PRNGKey(seed), geo), seed + 1, 0.2)


def compiled(ansatz) -> compiled_functions.RunFunctions:
    """The run's jitted log|psi|, local energies and MCMC sweep (5 moves) of an ansatz, each
    compiled once per shape (op by op, one log|psi| of a tiny model takes seconds)."""
    return compiled_functions.run_functions(ansatz, n_moves=5, target_acceptance=0.5,
                                            laplacian="forward", chunk_size=0, clip_scale=5.0,
                                            proposal="nuclear")


def log_abs_psi(ansatz, params, geo, x):
    """log|psi| [B] of walkers x [B, N, 3]."""
    return compiled(ansatz).log_abs(params, geo, x)


def batch_local_energy(ansatz, params, geo, x):
    return compiled(ansatz).local_energy(params, geo, x)


def sample(ansatz, params, molecule, geo, seed, n_walkers=64, sweeps=20):
    sweep = compiled(ansatz).network_sweep
    x = mcmc.initial_electrons(jax.random.PRNGKey(seed), molecule, n_walkers,
                               width=0.5, dtype=jnp.float64)
    walkers = mcmc.init_walkers(lambda x: log_abs_psi(ansatz, params, geo, x), x, 0.3)
    for index in range(sweeps):
        walkers = sweep(params, geo, walkers, jax.random.PRNGKey(1000 * seed + index))
    return walkers.electrons


FRAGMENTS = {"H2+H2": (H2, H2), "LiH+H2": (LIH, H2)}


# The shipped models of before ModelConfig.neighbour_mean aggregate neighbours by sums.
TINY_SUMS = dataclasses.replace(model_preset("tiny"), neighbour_mean=False)


@pytest.mark.parametrize("pair", FRAGMENTS)
@pytest.mark.parametrize("preset", [
    "tiny", pytest.param(TINY_SUMS, id="tiny-sums"),
    pytest.param("small", marks=pytest.mark.slow),
    pytest.param("large", marks=pytest.mark.slow)])
def test_far_apart_fragments_factorise_and_their_energies_add(pair, preset):
    first, second = FRAGMENTS[pair]
    second = shifted(second, [SEPARATION, 0, 0])
    ansatz = make_ansatz(preset, SETTINGS)
    a, b = geometry(first), geometry(second)
    ab = joined(a, b)
    params = random_params(ansatz, ab, seed=3)
    xa = sample(ansatz, params, first, a, seed=1)
    xb = sample(ansatz, params, second, b, seed=2)
    x = joined_electrons(xa, xb, a, b)

    log_a = log_abs_psi(ansatz, params, a, xa)
    log_b = log_abs_psi(ansatz, params, b, xb)
    log_ab = log_abs_psi(ansatz, params, ab, x)
    np.testing.assert_allclose(log_ab, log_a + log_b, atol=1e-6, rtol=0)

    e_a = batch_local_energy(ansatz, params, a, xa)
    e_b = batch_local_energy(ansatz, params, b, xb)
    e_ab = batch_local_energy(ansatz, params, ab, x)
    # Per walker the only difference is the Coulomb energy between the fragments.
    cross = jax.jit(jax.vmap(lambda e, ea, eb: potential_energy(e, ab.coords, ab.charges)
                             - potential_energy(ea, a.coords, a.charges)
                             - potential_energy(eb, b.coords, b.charges)))(x, xa, xb)
    np.testing.assert_allclose(e_ab - e_a - e_b, cross, atol=1e-6 * np.max(np.abs(e_ab)))
    difference = e_ab - e_a - e_b
    error = np.std(difference) / np.sqrt(difference.size)
    assert abs(np.mean(difference)) <= 3 * error + 1e-9


def test_fragments_factorise_with_the_hartree_fock_of_the_whole_system():
    """The same with real PySCF orbitals of H2...H2 (Foster-Boys localizes them onto the
    fragments): additive up to how well the SCF and localization converge."""
    ansatz = make_ansatz("tiny", SETTINGS)
    far = shifted(H2, [SEPARATION, 0, 0])
    both = Molecule.from_symbols(["H"] * 4, np.concatenate([H2.coords, far.coords]),
                                 unit="bohr")
    a, b, ab = geometry(H2), geometry(far), geometry(both)
    params = random_params(ansatz, ab, seed=5)
    xa, xb = sample(ansatz, params, H2, a, seed=6), sample(ansatz, params, far, b, seed=7)
    log_ab = log_abs_psi(ansatz, params, ab, joined_electrons(xa, xb, a, b))
    log_a = log_abs_psi(ansatz, params, a, xa)
    log_b = log_abs_psi(ansatz, params, b, xb)
    np.testing.assert_allclose(log_ab, log_a + log_b, atol=1e-4, rtol=0)


@pytest.mark.parametrize("i, j", [(0, 1), (0, 2), (2, 3)], ids=["up-up", "up-down", "down-down"])
def test_local_energy_stays_bounded_where_two_electrons_meet(i, j):
    """Kato: the Jastrow's slopes (1/2 antiparallel, 1/4 parallel) cancel the 1/r_ij of the
    Coulomb energy only if nothing else in the network has a slope at r_ij = 0."""
    ansatz = make_ansatz("tiny", SETTINGS)
    geo = geometry(LIH)
    params = random_params(ansatz, geo, seed=8)
    base = jnp.asarray([[0.3, -0.2, 0.4], [0.5, 0.6, 2.1], [-0.4, 0.1, 1.2], [0.2, 0.3, 2.9]])
    direction = jnp.asarray([0.48, -0.6, 0.64])
    distances = [1e-2, 1e-3, 1e-4, 1e-5]
    walkers = jnp.stack([base.at[j].set(base[i] + r * direction) for r in distances])
    energies = np.asarray(batch_local_energy(ansatz, params, geo, walkers))
    assert np.all(np.isfinite(energies))
    # E_L(r) = E_L(0) + O(r): the change shrinks tenfold per decade of r, where a C/r
    # divergence (a wrong cusp slope) would grow tenfold.
    steps = np.abs(np.diff(energies))
    assert np.all(steps[1:] < 0.2 * steps[:-1]), energies


@pytest.mark.parametrize("neighbour_mean", [True, False])
def test_embedding_stays_in_its_trained_range_however_dense_the_atoms(neighbour_mean):
    """With neighbour means an electron's features are bounded by 1 + embedding_layers (a
    mean of tanh plus one tanh per layer) in a chain of 40 atoms 0.5 bohr apart, denser than
    any training set; plain sums over atoms (the older ansatz) leave that range."""
    config = dataclasses.replace(model_preset("tiny"), neighbour_mean=neighbour_mean)
    chain = hydrogen_chain(40, 0.5)
    coords = jnp.asarray(chain.coords, jnp.float64)
    electrons = coords + 0.1 * jax.random.normal(jax.random.PRNGKey(0), coords.shape,
                                                 jnp.float64)
    element_index = jnp.zeros(40, jnp.int32)
    embedding = ElectronEmbedding(config, n_elements=1)
    params = embedding.init(jax.random.PRNGKey(1), electrons, 20, coords, element_index)
    # Electron-nucleus weights of one sign saturate every tanh: the largest possible inputs.
    params = jax.tree_util.tree_map(jnp.abs, params)
    h = embedding.apply(params, electrons, 20, coords, element_index)
    bound = 1 + config.embedding_layers
    assert (float(jnp.max(jnp.abs(h))) < bound) == neighbour_mean
