"""Exact properties of the transferable ansatz, in float64."""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import perturbed
from foundation_wf import Molecule, MoleculeError
from foundation_wf.ansatz import geometry_input, make_ansatz
from foundation_wf.ansatz.layers import SplitDense
from foundation_wf.ansatz.presets import model_preset
from foundation_wf.data.generators import hydrogen_chain, random_rotation
from foundation_wf.hf import DescriptorSettings, geometry_hf

SETTINGS = DescriptorSettings()
ANSATZ = make_ansatz("tiny", SETTINGS)
batch_log_psi = jax.jit(ANSATZ.batch_log_psi)
LIH = Molecule.from_symbols(["Li", "H"], [[0, 0, 0], [0, 0, 3.015]], unit="bohr", name="LiH")
NH3 = Molecule.from_xyz("datasets/small_molecules/source/NH3.xyz")


def geometry(molecule):
    return geometry_input(molecule, geometry_hf(molecule, SETTINGS), SETTINGS, jnp.float64)


def random_params(molecule, seed=0, scale=0.3):
    """Parameters with every entry (biases included) perturbed away from initialization."""
    return perturbed(ANSATZ.init(jax.random.PRNGKey(seed), geometry(molecule)), seed + 1000,
                     scale)


def electrons_near(molecule, key, n_walkers=4):
    n = molecule.n_electrons
    centres = jnp.asarray(molecule.coords)[jnp.arange(n) % molecule.n_atoms]
    return centres + jax.random.normal(key, (n_walkers, n, 3))


def test_exchanging_same_spin_electrons_negates_psi():
    params, geo = random_params(LIH), geometry(LIH)
    x = electrons_near(LIH, jax.random.PRNGKey(1))
    sign, log_abs = batch_log_psi(params, geo, x)
    for i, j in [(0, 1), (2, 3)]:  # two up electrons, then two down electrons
        swapped = x.at[:, [i, j]].set(x[:, [j, i]])
        sign_s, log_s = batch_log_psi(params, geo, swapped)
        np.testing.assert_allclose(log_s, log_abs, atol=1e-10)
        np.testing.assert_array_equal(sign_s, -sign)


@pytest.mark.parametrize("spin, orbital", [("up", 0), ("up", 1), ("down", 0), ("down", 1)])
def test_flipping_an_orbital_descriptor_flips_only_the_sign(spin, orbital):
    params, geo = random_params(LIH, seed=2), geometry(LIH)
    assert all(np.all(np.abs(b) > 0) for b in jax.tree_util.tree_leaves(params))
    field = "desc_up" if spin == "up" else "desc_down"
    flipped = geo.replace(**{field: getattr(geo, field).at[:, orbital].multiply(-1.0)})
    x = electrons_near(LIH, jax.random.PRNGKey(3))
    sign, log_abs = batch_log_psi(params, geo, x)
    sign_f, log_f = batch_log_psi(params, flipped, x)
    np.testing.assert_allclose(log_f, log_abs, atol=1e-10)
    np.testing.assert_array_equal(sign_f, -sign)
    # Network orbital k flips, everything else is unchanged.
    k = orbital if spin == "up" else geo.n_up + orbital
    a, b = ANSATZ.orbitals(params, geo), ANSATZ.orbitals(params, flipped)
    np.testing.assert_allclose(b.features[:, :, :, k], -a.features[:, :, :, k], atol=1e-12)
    np.testing.assert_allclose(b.exponents, a.exponents, atol=1e-12)
    others = np.arange(a.features.shape[3]) != k
    np.testing.assert_allclose(b.features[:, :, :, others], a.features[:, :, :, others],
                               atol=1e-12)


def test_the_baseline_without_phase_equivariance_is_not_sign_equivariant():
    """The phase demo's baseline: flipping one orbital's descriptor changes |psi|."""
    baseline = make_ansatz(dataclasses.replace(model_preset("tiny"), phase_equivariant=False),
                           SETTINGS)
    geo = geometry(LIH)
    params = perturbed(baseline.init(jax.random.PRNGKey(5), geo), 6, 0.3)
    flipped = geo.replace(desc_up=geo.desc_up.at[:, 0].multiply(-1.0))
    x = electrons_near(LIH, jax.random.PRNGKey(7))
    _, log_abs = jax.jit(baseline.batch_log_psi)(params, geo, x)
    _, log_f = jax.jit(baseline.batch_log_psi)(params, flipped, x)
    assert np.min(np.abs(log_f - log_abs)) > 1e-3


@pytest.mark.parametrize("molecule", [LIH, NH3], ids=["LiH", "NH3"])
def test_rotation_and_translation_invariance(molecule):
    params = random_params(molecule, seed=4, scale=0.1)
    rotation = random_rotation(np.random.default_rng(5))
    shift = np.array([0.7, -1.3, 2.1])
    moved = molecule.with_coords(molecule.coords @ rotation.T + shift)
    x = electrons_near(molecule, jax.random.PRNGKey(6))
    x_moved = x @ jnp.asarray(rotation).T + shift
    _, log_abs = batch_log_psi(params, geometry(molecule), x)
    _, log_moved = batch_log_psi(params, geometry(moved), x_moved)
    np.testing.assert_allclose(log_moved, log_abs, atol=1e-6)


def test_one_parameter_set_for_molecules_of_any_size():
    molecules = [hydrogen_chain(2, 1.4), hydrogen_chain(4, 1.8), LIH, hydrogen_chain(10, 1.8)]
    shapes = [jax.tree_util.tree_map(
        jnp.shape, jax.eval_shape(ANSATZ.init, jax.random.PRNGKey(0), geometry(m)))
        for m in molecules]
    assert all(s == shapes[0] for s in shapes)
    params = random_params(LIH, scale=0.05)
    for m in molecules:
        _, log_abs = batch_log_psi(params, geometry(m), electrons_near(m, jax.random.PRNGKey(7)))
        assert np.all(np.isfinite(log_abs))


def test_batched_equals_per_walker():
    params, geo = random_params(LIH), geometry(LIH)
    x = electrons_near(LIH, jax.random.PRNGKey(8), n_walkers=3)
    signs, logs = batch_log_psi(params, geo, x)
    orbitals = ANSATZ.orbitals(params, geo)
    single = jax.jit(ANSATZ.log_psi)
    for walker in range(3):
        sign, log_abs = single(params, orbitals, geo, x[walker])
        assert sign == signs[walker]
        np.testing.assert_allclose(log_abs, logs[walker], rtol=1e-12)


def test_finite_on_nuclei_and_coalescing_electrons():
    params, geo = random_params(LIH, scale=0.05), geometry(LIH)
    # Up electrons on the Li nucleus and at a point; a down electron on top of that up
    # electron, the other down electron on the H nucleus.
    x = jnp.asarray([[0.0, 0, 0], [0.3, 0.2, 1.0], [0.3, 0.2, 1.0], [0, 0, 3.015]])
    def log_abs(p, r):
        return batch_log_psi(p, geo, r[None])[1][0]
    value = log_abs(params, x)
    grad_params = jax.grad(log_abs)(params, x)
    grad_x = jax.grad(log_abs, argnums=1)(params, x)
    assert np.isfinite(value) and np.all(np.isfinite(grad_x))
    assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(grad_params))


def test_element_outside_model_element_set_is_refused():
    narrow = DescriptorSettings(elements=("H", "Li"))
    with pytest.raises(MoleculeError, match="N outside the configured element set"):
        geometry_input(NH3, geometry_hf(NH3, SETTINGS), narrow)


def test_an_atom_beyond_the_cutoff_changes_nothing():
    """Size extrapolation: sums over atoms are local, so a distant atom with zero orbital
    coefficients leaves the orbitals of the molecule and its wavefunction unchanged."""
    params, geo = random_params(LIH, seed=5), geometry(LIH)
    far = 3 * max(ANSATZ.config.gnn_cutoff, ANSATZ.config.orbital_cutoff)
    pad = lambda d: jnp.concatenate([d, jnp.zeros_like(d[:1])], axis=0)  # noqa: E731
    extended = geo.replace(
        coords=jnp.concatenate([geo.coords, jnp.asarray([[far, 0.0, 0.0]])]),
        charges=jnp.concatenate([geo.charges, jnp.ones(1)]),
        element_index=jnp.concatenate([geo.element_index, geo.element_index[-1:]]),
        desc_up=pad(geo.desc_up), desc_down=pad(geo.desc_down))
    a, b = ANSATZ.orbitals(params, geo), ANSATZ.orbitals(params, extended)
    np.testing.assert_allclose(b.features[:, :, :2], a.features, atol=1e-12)
    np.testing.assert_allclose(b.directions[:, :, :2], a.directions, atol=1e-12)
    np.testing.assert_allclose(b.exponents[:, :, :2], a.exponents, atol=1e-12)
    np.testing.assert_allclose(b.features[:, :, 2], 0.0, atol=1e-12)
    x = electrons_near(LIH, jax.random.PRNGKey(9))
    np.testing.assert_allclose(batch_log_psi(params, extended, x)[1],
                               batch_log_psi(params, geo, x)[1], atol=1e-10)


def test_cross_spin_blocks_can_build_the_singlet_resonance_of_a_stretched_bond():
    """Stretched H2 with UHF descriptors: up orbital A on atom 0, down orbital B on atom 1,
    mirror images of each other. The mirror plane between the atoms maps the walker
    (up at r1, down at r2) to (up at m(r2), down at m(r1)) and orbital A onto B, so
    the two cross-spin entries of det = A(1) B(2) - Phi_01 Phi_10 are the same function up to
    the model's cross_spin_sign: -1 lets the cross term add B(1) A(2) (Heitler-London
    singlet), not subtract it."""
    unrestricted = DescriptorSettings(reference="unrestricted")
    ansatz = make_ansatz("tiny", unrestricted)
    h2 = hydrogen_chain(2, 3.6)
    geo = geometry_input(h2, geometry_hf(h2, unrestricted), unrestricted, jnp.float64)
    params = perturbed(ansatz.init(jax.random.PRNGKey(2), geo), 3, 0.3)
    mirror = lambda r: r * jnp.array([1.0, 1.0, -1.0]) + jnp.array([0.0, 0.0, 3.6])  # noqa
    x = jnp.asarray([[[0.2, -0.1, 0.4], [-0.3, 0.5, 2.9]]])
    x_mirrored = jnp.stack([mirror(x[:, 1]), mirror(x[:, 0])], axis=1)
    phi = ansatz.batch_slater_matrices(params, geo, x)[0, 0]
    phi_mirrored = ansatz.batch_slater_matrices(params, geo, x_mirrored)[0, 0]
    assert ansatz.config.cross_spin_sign == -1
    assert abs(phi[0, 1]) > 1e-3  # the cross-spin entries are not zero
    np.testing.assert_allclose(phi_mirrored[0, 0], phi[1, 1], atol=1e-8)
    np.testing.assert_allclose(phi_mirrored[1, 0], -phi[0, 1], atol=1e-8)


def test_split_dense_is_the_dense_layer_of_the_concatenation():
    """The orbital GNN's edge layers multiply a bond's radial features once, not once per
    orbital; same parameters (names, shapes, initial values) and outputs as nn.Dense."""
    keys = jax.random.split(jax.random.PRNGKey(3), 3)
    radial = jax.random.normal(keys[0], (5, 5, 1, 7), jnp.float64)
    orbital = jax.random.normal(keys[1], (5, 5, 4, 3), jnp.float64)
    concatenated = jnp.concatenate([jnp.broadcast_to(radial, (5, 5, 4, 7)), orbital], -1)
    split, dense = SplitDense(6), nn.Dense(6)
    params = split.init(keys[2], [radial, orbital])
    reference = dense.init(keys[2], concatenated)
    assert jax.tree_util.tree_all(jax.tree_util.tree_map(
        lambda a, b: a.shape == b.shape and bool(jnp.all(a == b)), params, reference))
    params = perturbed(params, 4, 0.5)
    np.testing.assert_allclose(split.apply(params, [radial, orbital]),
                               dense.apply(params, concatenated), rtol=1e-12, atol=1e-12)
