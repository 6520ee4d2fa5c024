"""Geometry datasets: generators, JSON Lines through Hugging Face datasets, the CLI."""

import dataclasses

import datasets as hf_datasets
import numpy as np
import pytest

from foundation_wf import Molecule
from foundation_wf.cli.main import main
from foundation_wf.data import generators
from foundation_wf.data.io import (
    DatasetError, dataset_fingerprint, load_geometries, save_geometries,
)


def test_top_level_datasets_folder_does_not_shadow_the_library():
    assert hasattr(hf_datasets, "load_dataset")


def test_generate_save_load_roundtrip(tmp_path):
    records = generators.hydrogen_chains([2, 3], [1.4, 2.0])
    records += generators.distorted_variants(
        Molecule.from_xyz("datasets/small_molecules/source/H2O.xyz"), count=3, seed=1)
    save_geometries(records, tmp_path / "set")
    loaded = load_geometries(tmp_path / "set")
    assert [r.molecule for r in loaded] == [r.molecule for r in records]
    assert [r.scan for r in loaded] == [r.scan for r in records]
    assert dataset_fingerprint(loaded) == dataset_fingerprint(records)
    assert loaded[2].molecule.spin == 1  # H3 is a doublet


def test_distortions_are_seeded_and_keep_bond_ratios():
    water = Molecule.from_xyz("datasets/small_molecules/source/H2O.xyz")
    a = generators.distorted_variants(water, count=5, seed=7, bond_ratio=(0.95, 1.05))
    b = generators.distorted_variants(water, count=5, seed=7, bond_ratio=(0.95, 1.05))
    assert [r.molecule for r in a] == [r.molecule for r in b]
    for record in a:
        for i, j in generators.bonded_pairs(water):
            old = np.linalg.norm(water.coords[i] - water.coords[j])
            new = np.linalg.norm(record.molecule.coords[i] - record.molecule.coords[j])
            assert 0.95 <= new / old <= 1.05


def test_shipped_datasets_load_with_references():
    chains = load_geometries("hydrogen_chains")
    assert {r.compound for r in chains} == {"H2", "H4", "H6"}
    reference = {r.name: r for r in load_geometries("reference")}
    assert reference["He"].reference_energy == pytest.approx(-2.903724377034)
    assert reference["Li"].molecule.spin == 1
    small = {r.compound for r in load_geometries("small_molecules")}
    assert {"LiH", "H2O", "NH3", "CH4", "N2"} <= small


def test_missing_dataset_names_what_exists():
    with pytest.raises(DatasetError, match="available: .*hydrogen_chains"):
        load_geometries("no_such_set")


def test_bad_row_is_named(tmp_path):
    (tmp_path / "bad.jsonl").write_text(
        '{"name": "broken", "symbols": ["H", "H"], "coordinates_bohr": [[0,0,0],[0,0,0]]}\n')
    with pytest.raises(ValueError, match="broken.*overlap"):
        load_geometries(tmp_path / "bad.jsonl")


def test_cli_make_show_and_hf(tmp_path, capsys):
    out = tmp_path / "chains"
    assert main(["dataset", "make", "hchain", "--n-atoms", "2", "--spacings", "1.4:2.0:2",
                 "--out", str(out)]) == 0
    assert main(["dataset", "show", str(out)]) == 0
    assert "H2_d2.000" in capsys.readouterr().out
    assert main(["hf", str(out), "--cache-dir", str(tmp_path / "cache")]) == 0
    table = capsys.readouterr().out
    assert "H2_d1.400" in table and "-1.1253" in table and "[2, 1, 42]" in table


def test_cli_error_is_one_line(tmp_path, capsys):
    assert main(["hf", str(tmp_path / "missing")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("fwf hf: error: dataset") and "\n" not in error


def test_cli_model_info(capsys):
    assert main(["model", "info", "--preset", "tiny"]) == 0
    assert "tiny:     5,776 parameters" in capsys.readouterr().out


def test_diatomic_scan_cli(tmp_path, capsys):
    out = tmp_path / "lih"
    assert main(["dataset", "make", "diatomic", "Li", "H", "--distances", "2.5:3.5:3",
                 "--out", str(out)]) == 0
    records = load_geometries(out)
    assert [r.name for r in records] == ["LiH_R2.500", "LiH_R3.000", "LiH_R3.500"]
    for record in records:
        coords = record.molecule.coords
        assert np.linalg.norm(coords[1] - coords[0]) == pytest.approx(record.scan)
        assert (record.molecule.n_electrons, record.molecule.spin) == (4, 0)
    assert main(["dataset", "make", "diatomic", "Li", "H", "--distances", "0",
                 "--out", str(tmp_path / "bad")]) == 2
    assert "bond lengths must be positive, got 0.0" in capsys.readouterr().err


def test_add_references_matches_exact_energies_within_its_uncertainty(tmp_path, capsys):
    """CCSD(T)/CBS (DZ/TZ extrapolation, HF at QZ) against H2 (exact, Kolos-Wolniewicz
    type) and LiH (explicitly correlated Gaussians), both in datasets/reference."""
    exact = {r.name: r for r in load_geometries("reference")}
    rows = [dataclasses.replace(exact[name], reference_energy=None, reference_uncertainty=None,
                                reference_method=None, reference_source=None)
            for name in ("H2_R1.4", "LiH_R3.015")]
    save_geometries(rows, tmp_path / "in")
    assert main(["dataset", "add-references", str(tmp_path / "in"), "--out",
                 str(tmp_path / "out"), "--cardinal", "3"]) == 0
    assert "2 reference(s) computed" in capsys.readouterr().out
    for row in load_geometries(tmp_path / "out"):
        truth = exact[row.name].reference_energy
        assert 0 < row.reference_uncertainty < 5e-3
        assert abs(row.reference_energy - truth) < row.reference_uncertainty
        assert "CCSD(T)" in row.reference_method and "Helgaker" in row.reference_source
    # Rows that have a reference are left alone: a second pass computes nothing.
    assert main(["dataset", "add-references", str(tmp_path / "out"), "--out",
                 str(tmp_path / "out")]) == 0
    assert "0 reference(s) computed" in capsys.readouterr().out
