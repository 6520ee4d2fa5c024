"""Local energy, MCMC and statistics against analytic results (float64)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from foundation_wf import Molecule
from foundation_wf.ansatz import geometry_input, make_ansatz
from foundation_wf.hf import DescriptorSettings, geometry_hf
from foundation_wf.vmc import mcmc
from foundation_wf.vmc.hamiltonian import (LocalParts, kinetic_energy, potential_energy,
                                           whole_function)
from foundation_wf.vmc.loss import (local_energy_chunk_for, make_batch_local_energy,
                                   make_energy_loss)
from foundation_wf.vmc.stats import reblock, widened_by_walker_spread

NUCLEUS = jnp.zeros((1, 3))


@pytest.mark.parametrize("laplacian", ["forward", "loop"])
def test_hydrogen_exact_wavefunction_has_constant_local_energy(laplacian):
    points = jax.random.normal(jax.random.PRNGKey(0), (16, 3)) * 2.0
    log_abs = lambda x: -jnp.linalg.norm(x)  # noqa: E731  psi = exp(-r), E = -1/2
    for x in points:
        e_l = kinetic_energy(whole_function(log_abs), x[None], laplacian) + potential_energy(
            x[None], NUCLEUS, jnp.ones(1))
        assert float(e_l) == pytest.approx(-0.5, abs=1e-10)


@pytest.mark.parametrize("laplacian", ["forward", "loop"])
def test_helium_product_wavefunction_matches_analytic_local_energy(laplacian):
    zeta = 27.0 / 16.0
    log_abs = lambda x: -zeta * (jnp.linalg.norm(x[:3]) + jnp.linalg.norm(x[3:]))  # noqa: E731
    for x in jax.random.normal(jax.random.PRNGKey(1), (16, 6)):
        r1, r2 = np.linalg.norm(x[:3]), np.linalg.norm(x[3:])
        r12 = np.linalg.norm(x[:3] - x[3:])
        expected = -zeta**2 + (zeta - 2) * (1 / r1 + 1 / r2) + 1 / r12
        electrons = x.reshape(2, 3)
        e_l = kinetic_energy(whole_function(log_abs), electrons, laplacian) + potential_energy(
            electrons, NUCLEUS, jnp.array([2.0]))
        assert float(e_l) == pytest.approx(expected, rel=1e-10)


def test_nuclear_repulsion_in_potential():
    coords = jnp.array([[0.0, 0, 0], [0, 0, 1.4]])
    far = jnp.array([[1e7, 0, 0], [-1e7, 0, 0]])  # electrons far away: only nuclei interact
    assert float(potential_energy(far, coords, jnp.ones(2))) == pytest.approx(1 / 1.4, abs=1e-6)


def tiny_setup(symbols, coords, n_walkers):
    """(ansatz, params, geometry, walkers [n_walkers, N, 3]) of a tiny model, float64."""
    settings = DescriptorSettings()
    molecule = Molecule.from_symbols(symbols, coords, unit="bohr")
    geometry = geometry_input(molecule, geometry_hf(molecule, settings), settings, jnp.float64)
    ansatz = make_ansatz("tiny", settings)
    params = ansatz.init(jax.random.PRNGKey(0), geometry)
    x = mcmc.initial_electrons(jax.random.PRNGKey(1), molecule, n_walkers, dtype=jnp.float64)
    return ansatz, params, geometry, x


def test_local_parts_forward_laplacian_matches_the_loop():
    """The forward Laplacian from local jets (each electron's features in its 3 coordinates,
    pair features in r_ij^2, their row sums and contractions with electron-dependent values,
    sums weighted by one-electron features, broadcast or not) equals the loop over all 3N
    coordinates, for spins 3 up and 2 down (float64)."""
    keys = jax.random.split(jax.random.PRNGKey(3), 4)
    weights = jax.random.normal(keys[0], (3, 4))
    centres = jax.random.normal(keys[2], (2, 3, 3))
    rates = jnp.array([0.3, 0.7, 1.1, 1.9])

    def electron(x):
        distance_sq = jnp.sum((x[:, None, None] - centres) ** 2, axis=-1)  # [M, 2, 3]
        return jnp.tanh(x @ weights), {"envelope": jnp.exp(-distance_sq)}

    def pair(distance_sq, same_spin):
        sign = jnp.where(same_spin, 1.0, -0.5)
        summed = (sign * jnp.exp(-0.2 * distance_sq), jnp.sqrt(distance_sq + 1.0))
        contracted = {"filters": sign[..., None] * jnp.tanh(distance_sq[..., None] * rates)}
        return summed, contracted

    def combine(one, sums, contract, weigh):
        mixed = contract(lambda c: c["filters"], jnp.sin(one) * sums[1][:, None])
        h = jnp.tanh(mixed + one)
        weighted = (weigh(lambda w: w["envelope"], h[:, :3].reshape(-1, 1, 3))
                    + weigh(lambda w: w["envelope"], jnp.stack([h[:, 1:], h[:, :3]], 1)))
        return jnp.sum(h) + jnp.sum(sums[0] ** 2) + jnp.sum(jnp.log1p(weighted**2))

    parts = LocalParts(electron=electron, pair=pair, combine=combine, n_up=3)
    for electrons in jax.random.normal(keys[1], (3, 5, 3)) * 1.5:
        forward = kinetic_energy(parts, electrons, "forward")
        loop = kinetic_energy(parts, electrons, "loop")
        assert float(forward) == pytest.approx(float(loop), rel=1e-10)


def test_forward_and_loop_laplacians_agree_on_the_ansatz():
    ansatz, params, geometry, x = tiny_setup(["Li", "H"], [[0, 0, 0], [0, 0, 3.015]], 3)
    forward = jax.jit(make_batch_local_energy(ansatz, "forward"))(params, geometry, x)
    loop = jax.jit(make_batch_local_energy(ansatz, "loop"))(params, geometry, x)
    np.testing.assert_allclose(forward, loop, rtol=1e-6)
    chunked = jax.jit(make_batch_local_energy(ansatz, "forward", chunk_size=2))(
        params, geometry, x)
    np.testing.assert_allclose(chunked, forward, rtol=1e-10)


def test_default_local_energy_chunk_shrinks_with_the_electron_count():
    assert [local_energy_chunk_for(n) for n in (2, 4, 6, 8, 10, 12, 40)] == [
        1024, 128, 32, 16, 8, 4, 4]


@pytest.mark.parametrize("length_scales", [
    None, mcmc.nuclear_length_scales(jnp.zeros((1, 3)), jnp.array([0.5]))],
    ids=["uniform", "nuclear"])
def test_mcmc_samples_hydrogen_ground_state_density(length_scales):
    """<r> = 1.5 and <r^2> = 3 bohr^2 for |psi|^2 = exp(-2r)/pi; the step size adapts towards
    50%. The nuclear proposal's widths grow with r from 2 bohr (a nuclear charge of 1/2 makes
    them vary where the density is): without the Hastings correction <r> drops to about 1.43."""
    molecule = Molecule.from_symbols(["H"], [[0, 0, 0]], unit="bohr", spin=1)
    log_abs = lambda x: -jnp.linalg.norm(x[:, 0], axis=-1)  # noqa: E731
    x = mcmc.initial_electrons(jax.random.PRNGKey(2), molecule, 2000, dtype=jnp.float64)
    state = mcmc.init_walkers(log_abs, x, step_size=0.05)
    sweep = jax.jit(lambda s, k: mcmc.adapt_step_size(
        mcmc.mh_sweep(log_abs, s, k, 10, length_scales)))
    radii, squares = [], []
    for i in range(60):
        state = sweep(state, jax.random.PRNGKey(100 + i))
        if i >= 20:
            r = jnp.linalg.norm(state.electrons[:, 0], axis=-1)
            radii.append(float(jnp.mean(r)))
            squares.append(float(jnp.mean(r**2)))
    assert 0.35 < float(state.acceptance) < 0.65
    assert np.mean(radii) == pytest.approx(1.5, abs=0.03)
    assert np.mean(squares) == pytest.approx(3.0, abs=0.1)


def test_nuclear_proposal_widths_follow_the_nuclei_around_each_electron():
    """Li at 0, H at 4 bohr: a Li 1s electron gets 1/3 bohr, one near the proton 1 bohr, one
    between them its distance to the nearer nucleus, one far out the cap."""
    scales = mcmc.nuclear_length_scales(jnp.array([[0.0, 0, 0], [0, 0, 4.0]]),
                                        jnp.array([3.0, 1]))
    electrons = jnp.array([[[0.0, 0, 0.1], [0, 0, 3.8], [0, 0, 1.5], [0, 0, -2.5], [20.0, 0, 0]]])
    widths = mcmc.proposal_widths(electrons, scales, jnp.asarray(0.4))
    np.testing.assert_allclose(
        widths, 0.4 * np.array([[1 / 3, 1.0, 1.5, 2.5, mcmc.MAX_LENGTH_SCALE]]), rtol=1e-6)
    np.testing.assert_allclose(mcmc.proposal_widths(electrons, None, jnp.asarray(0.4)),
                               np.full((1, 5), 0.4))


def test_initial_electrons_follow_charge_and_spin():
    lih = Molecule.from_symbols(["Li", "H"], [[0, 0, 0], [0, 0, 3.0]], unit="bohr")
    up, down = mcmc.electron_sites(lih)
    assert sorted(up.tolist() + down.tolist()) == [0, 0, 0, 1]
    cation = Molecule.from_symbols(["Li"], [[0, 0, 0]], unit="bohr", charge=1)
    assert [len(s) for s in mcmc.electron_sites(cation)] == [1, 1]
    anion = Molecule.from_symbols(["H"], [[0, 0, 0]], unit="bohr", charge=-1)
    assert [len(s) for s in mcmc.electron_sites(anion)] == [1, 1]


def test_reblocking_recovers_error_of_correlated_series():
    rng = np.random.default_rng(0)
    n, phi = 2**15, 0.9  # AR(1): tau_int = (1 + phi) / (1 - phi) / 2 = 9.5
    noise = rng.normal(size=n)
    series = np.empty(n)
    series[0] = noise[0]
    for t in range(1, n):
        series[t] = phi * series[t - 1] + noise[t] * np.sqrt(1 - phi**2)
    stats = reblock(series)
    exact_error = np.sqrt((1 + phi) / (1 - phi) / n)
    assert stats.error == pytest.approx(exact_error, rel=0.25)
    assert stats.error > 3 * np.sqrt(series.var() / n)  # naive error is far too small
    independent = reblock(rng.normal(size=4096))
    assert independent.error == pytest.approx(1 / 64, rel=0.15)


def test_walker_stuck_for_the_whole_series_widens_the_error_bar():
    """One walker of 256 shifted by 40 sigma for all 100 sweeps moves every sweep's mean by
    40/256: reblocking cannot see it, the spread of the walkers' averages does."""
    rng = np.random.default_rng(1)
    local = rng.normal(size=(100, 256))  # [sweeps, walkers], independent
    plain = reblock(local.mean(axis=1))
    no_outlier = widened_by_walker_spread(plain, local.mean(axis=0))
    # no outlier: the exact error of the mean of 25,600 independent values, never below
    # the reblocked one (which, from 100 points, can itself come out low)
    assert no_outlier.error == pytest.approx(1 / 160, rel=0.15)
    assert no_outlier.error >= plain.error
    local[:, 0] += 40.0
    stuck = reblock(local.mean(axis=1))
    widened = widened_by_walker_spread(stuck, local.mean(axis=0))
    bias = 40.0 / 256
    assert stuck.error < bias / 10  # reblocking alone: the bias is 25 error bars away
    assert widened.error > bias / 2 and widened.mean == stuck.mean
    averages = local.mean(axis=0)
    averages[5] = np.nan  # a walker without a finite local energy is left out
    assert np.isfinite(widened_by_walker_spread(stuck, averages).error)


def test_walker_with_nonfinite_local_energy_is_left_out_of_energy_and_gradient():
    ansatz, params, geometry, x = tiny_setup(["H", "H"], [[0, 0, 0], [0, 0, 1.4]], 8)
    x = x.at[3, 0].set(geometry.coords[0])  # an electron exactly on a nucleus: V = -inf
    loss = make_energy_loss(ansatz)
    local = jax.jit(make_batch_local_energy(ansatz))(params, geometry, x)
    stacked = jax.tree_util.tree_map(lambda a: a[None], geometry)  # one geometry: G = 1
    (energy, aux), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(
        params, {"electrons": x[None], "geometry": stacked, "local_energies": local[None]})
    assert not np.isfinite(local[3]) and int(aux.n_nonfinite[0]) == 1
    others = np.delete(np.asarray(local), 3)
    assert float(energy) == pytest.approx(others.mean(), rel=1e-12)
    assert all(np.all(np.isfinite(g)) for g in jax.tree_util.tree_leaves(grads))


def test_stacked_geometries_give_the_mean_of_their_energies_and_gradients():
    """Two geometries in one batch (walkers laid out geometry by geometry for KFAC): the
    energy and the gradient are the means of each geometry's own."""
    ansatz, params, near, x_near = tiny_setup(["H", "H"], [[0, 0, 0], [0, 0, 1.4]], 6)
    _, _, far, x_far = tiny_setup(["H", "H"], [[0, 0, 0], [0, 0, 2.6]], 6)
    loss = make_energy_loss(ansatz)
    local_energy = jax.jit(make_batch_local_energy(ansatz))

    def batch(geometries, walkers):
        return {"electrons": jnp.stack(walkers),
                "geometry": jax.tree_util.tree_map(lambda *a: jnp.stack(a), *geometries),
                "local_energies": jnp.stack([local_energy(params, g, x)
                                             for g, x in zip(geometries, walkers)])}

    gradient = jax.jit(jax.value_and_grad(loss, has_aux=True))
    (both, _), grad_both = gradient(params, batch([near, far], [x_near, x_far]))
    (one, _), grad_one = gradient(params, batch([near], [x_near]))
    (two, _), grad_two = gradient(params, batch([far], [x_far]))
    assert float(both) == pytest.approx((float(one) + float(two)) / 2, rel=1e-12)
    for g, a, b in zip(*(jax.tree_util.tree_leaves(t) for t in (grad_both, grad_one, grad_two))):
        np.testing.assert_allclose(g, (a + b) / 2, rtol=1e-9, atol=1e-9)


def test_learning_rate_warmup_then_hyperbolic_decay():
    from foundation_wf.vmc.optimizers import OptimizerConfig

    warm = OptimizerConfig(learning_rate=0.1, decay_time=100.0, warmup_steps=10)
    plain = OptimizerConfig(learning_rate=0.1, decay_time=100.0)
    for t, factor in [(0, 0.1), (4, 0.5), (9, 1.0), (50, 1.0)]:
        np.testing.assert_allclose(warm.learning_rate_at(t), factor * 0.1 / (1 + t / 100),
                                   rtol=1e-12)
        np.testing.assert_allclose(plain.learning_rate_at(t), 0.1 / (1 + t / 100), rtol=1e-12)
    with pytest.raises(ValueError, match="warmup_steps >= 0"):
        OptimizerConfig(warmup_steps=-1)
