"""Hartree-Fock and descriptors on real PySCF."""

import numpy as np
import pytest
from pyscf import scf

from foundation_wf import Molecule
from foundation_wf.data.generators import hydrogen_chain, random_rotation
from foundation_wf.hf import (
    DescriptorCache, DescriptorSettings, geometry_hf, hartree_fock, pyscf_molecule,
)
from foundation_wf.hf import descriptors as descriptors_module
from foundation_wf.hf.scf import canonicalize, localize

SETTINGS = DescriptorSettings()
LIH = Molecule.from_symbols(["Li", "H"], [[0, 0, 0], [0, 0, 3.015]], unit="bohr", name="LiH")
NH3 = Molecule.from_xyz("datasets/small_molecules/source/NH3.xyz")


@pytest.mark.parametrize("molecule", [
    Molecule.from_symbols(["H", "H"], [[0, 0, 0], [0, 0, 1.4]], unit="bohr"), LIH,
])
def test_hf_energy_matches_pyscf(molecule):
    direct = scf.RHF(pyscf_molecule(molecule, "sto-6g")).run(conv_tol=1e-10)
    assert hartree_fock(molecule, SETTINGS).energy == pytest.approx(direct.e_tot, abs=1e-8)


def test_open_shell_uses_rohf_with_right_orbital_counts():
    li = Molecule.from_symbols(["Li"], [[0, 0, 0]], unit="bohr", spin=1)
    result = geometry_hf(li, SETTINGS)
    assert result.orbitals.method == "ROHF"
    assert result.descriptors[0].shape == (1, 2, SETTINGS.layout.n_features)
    assert result.descriptors[1].shape == (1, 1, SETTINGS.layout.n_features)


UNRESTRICTED = DescriptorSettings(reference="unrestricted")
RESTRICTED = DescriptorSettings(reference="restricted")


def test_unrestricted_reference_keeps_stable_rhf_and_breaks_stretched_bonds():
    near_equilibrium = hydrogen_chain(2, 1.4)
    np.testing.assert_array_equal(geometry_hf(near_equilibrium, UNRESTRICTED).descriptors[0],
                                  geometry_hf(near_equilibrium, RESTRICTED).descriptors[0])
    stretched = hydrogen_chain(2, 3.6)
    rhf, uhf = hartree_fock(stretched, RESTRICTED), hartree_fock(stretched, UNRESTRICTED)
    direct = scf.UHF(pyscf_molecule(stretched, "sto-6g"))
    assert uhf.method == "UHF" and rhf.method == "RHF"
    assert uhf.energy < rhf.energy - 0.1  # 134 mHa in STO-6G
    # Up and down electrons sit on different atoms (Mulliken-like weights of the 1s AOs).
    up_atom, down_atom = np.abs(uhf.coeff_up[:, 0]).argmax(), np.abs(uhf.coeff_down[:, 0]).argmax()
    assert {up_atom, down_atom} == {0, 1}
    # The localized orbitals carry the UHF density: PySCF's energy of it is the UHF energy.
    density = np.stack([uhf.coeff_up @ uhf.coeff_up.T, uhf.coeff_down @ uhf.coeff_down.T])
    assert direct.energy_tot(density) == pytest.approx(uhf.energy, abs=1e-8)


def test_unrestricted_spin_choice_is_rotation_invariant():
    chain = hydrogen_chain(4, 2.8)
    rotation = random_rotation(np.random.default_rng(5))
    turned = chain.with_coords(chain.coords @ rotation.T)
    for original, rotated in zip(geometry_hf(chain, UNRESTRICTED).descriptors,
                                 geometry_hf(turned, UNRESTRICTED).descriptors):
        # s entries: which atoms each spin's orbitals sit on does not change.
        s_index = UNRESTRICTED.layout.s_index
        weights = lambda d: np.sort(np.abs(d[..., s_index]).sum(-1).argmax(0))  # noqa: E731
        np.testing.assert_array_equal(weights(original), weights(rotated))


def test_descriptor_layout_is_molecule_independent():
    h2 = geometry_hf(Molecule.from_symbols(["H", "H"], [[0, 0, 0], [0, 0, 1.4]], unit="bohr"),
                     SETTINGS)
    lih = geometry_hf(LIH, SETTINGS)
    assert h2.descriptors[0].shape[-1] == lih.descriptors[0].shape[-1] == 42
    layout = SETTINGS.layout
    h_slot = slice(layout.element_offsets["H"], layout.element_offsets["H"] + 1)
    # The H atom (row 1) of LiH has non-zero entries only in the H slot.
    row = lih.descriptors[0][1].copy()
    row[:, h_slot] = 0
    assert np.all(row == 0)


def match_orbitals(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """Index array p with candidate[:, p[k]] ~ reference[:, k] (descriptors [atom, orb, f])."""
    cost = np.array([[np.abs(reference[:, k] - candidate[:, j]).max()
                      for j in range(candidate.shape[1])] for k in range(reference.shape[1])])
    return cost.argmin(axis=1)


def test_permuting_atoms_permutes_descriptor_rows():
    permutation = np.array([2, 0, 3, 1])
    permuted = Molecule(NH3.charges[permutation], NH3.coords[permutation])
    original = geometry_hf(NH3, SETTINGS).descriptors[0]
    shuffled = geometry_hf(permuted, SETTINGS).descriptors[0]
    expected = original[permutation]
    order = match_orbitals(expected, shuffled)
    assert sorted(order) == list(range(expected.shape[1]))
    np.testing.assert_allclose(shuffled[:, order], expected, atol=1e-6)


def test_orbital_sign_flip_before_canonicalization_is_undone():
    mol = pyscf_molecule(LIH, SETTINGS.basis)
    mf = scf.RHF(mol).run()
    localized = localize(mol, mf.mo_coeff[:, :2], "boys")
    flipped = localized * np.array([1.0, -1.0])
    np.testing.assert_array_equal(canonicalize(mol, localized), canonicalize(mol, flipped))
    np.testing.assert_array_equal(canonicalize(mol, localized[:, ::-1]),
                                  canonicalize(mol, localized))


def test_rotation_rotates_p_entries_and_keeps_s_entries():
    rotation = random_rotation(np.random.default_rng(3))
    rotated = NH3.with_coords(NH3.coords @ rotation.T)
    layout = SETTINGS.layout
    original = geometry_hf(NH3, SETTINGS).descriptors[0]
    turned = geometry_hf(rotated, SETTINGS).descriptors[0]
    expected = original.copy()
    for p in layout.p_index:
        expected[..., p] = original[..., p] @ rotation.T
    order = match_orbitals(expected, turned)
    assert sorted(order) == list(range(expected.shape[1]))
    turned = turned[:, order]
    np.testing.assert_allclose(turned[..., layout.s_index], original[..., layout.s_index],
                               atol=1e-5)
    np.testing.assert_allclose(turned, expected, atol=1e-5)


def test_cache_hit_returns_identical_arrays_without_scf(tmp_path, monkeypatch):
    cache = DescriptorCache(tmp_path)
    first = geometry_hf(LIH, SETTINGS, cache)
    assert len(list(tmp_path.glob("*.npz"))) == 1 and not list(tmp_path.glob("*.tmp"))

    def no_scf(*args, **kwargs):
        raise AssertionError("SCF ran on a cache hit")

    monkeypatch.setattr(descriptors_module, "hartree_fock", no_scf)
    second = geometry_hf(LIH, SETTINGS, cache)
    assert second.energy == first.energy
    for a, b in zip(first.descriptors + (first.orbitals.coeff_up,),
                    second.descriptors + (second.orbitals.coeff_up,)):
        np.testing.assert_array_equal(a, b)
    # Another basis is another key: that must run SCF.
    with pytest.raises(AssertionError, match="SCF ran"):
        geometry_hf(LIH, DescriptorSettings(basis="sto-3g"), cache)


def test_basis_with_d_shells_is_refused():
    with pytest.raises(ValueError, match="d or higher shells"):
        DescriptorSettings(basis="cc-pvdz").layout


def test_element_outside_set_is_refused_before_scf():
    with pytest.raises(ValueError, match="Li outside"):
        geometry_hf(LIH, DescriptorSettings(elements=("H", "He")))
