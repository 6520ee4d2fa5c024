import numpy as np
import pytest

from foundation_wf import Molecule, MoleculeError
from foundation_wf.systems import ANGSTROM_TO_BOHR


def test_counts_and_units(tmp_path):
    m = Molecule.from_symbols(["Li", "H"], [[0, 0, 0], [0, 0, 1.0]], unit="angstrom")
    assert m.n_electrons == 4 and (m.n_up, m.n_down) == (2, 2)
    assert m.coords[1, 2] == pytest.approx(ANGSTROM_TO_BOHR)
    assert m.nuclear_repulsion() == pytest.approx(3.0 / ANGSTROM_TO_BOHR)
    xyz = tmp_path / "lih.xyz"
    xyz.write_text("2\ncomment\nLi 0 0 0\nH 0 0 1.0\n")
    assert np.allclose(Molecule.from_xyz(xyz).coords, m.coords)
    radical = Molecule.from_symbols(["N"], [[0, 0, 0]], unit="bohr", spin=3)
    assert (radical.n_up, radical.n_down) == (5, 2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(symbols=["Xx"], coords=[[0, 0, 0]]), "unknown element"),
        (dict(symbols=["H", "H"], coords=[[0, 0, 0], [0, 0, 0.01]]), "overlap"),
        (dict(symbols=["H"], coords=[[0, 0, 0]], charge=1), "at least 1"),
        (dict(symbols=["H", "H"], coords=[[0, 0, 0], [0, 0, 1.4]], spin=1), "parity"),
        (dict(symbols=["H"], coords=[[0, 0, 0]], spin=3), "exceeds"),
        (dict(symbols=["H"], coords=[[0, 0, np.nan]]), "NaN"),
        (dict(symbols=["H"], coords=[[0, 0, np.inf]]), "NaN or inf"),
        (dict(symbols=["H", "H"], coords=[[0, 0, 0]]), "shape"),
    ],
)
def test_bad_input_names_the_problem(kwargs, message):
    with pytest.raises(MoleculeError, match=message):
        Molecule.from_symbols(unit="bohr", **kwargs)


def test_element_outside_element_set():
    m = Molecule.from_symbols(["Na", "H"], [[0, 0, 0], [0, 0, 3.5]], unit="bohr")
    with pytest.raises(MoleculeError, match="Na outside the configured element set"):
        m.check_elements(["H", "Li"])


def test_unit_must_be_explicit():
    with pytest.raises(MoleculeError, match="unit"):
        Molecule.from_symbols(["H"], [[0, 0, 0]], unit="nm")
