"""Seeded generators of geometry datasets (coordinates in bohr)."""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Sequence

import numpy as np

from foundation_wf.data.records import GeometryRecord
from foundation_wf.systems import Molecule, atomic_number

# Single-bond covalent radii (bohr) used to decide which atom pairs are bonded.
COVALENT_RADII_BOHR = {
    "H": 0.59, "He": 0.53, "Li": 2.43, "Be": 1.81, "B": 1.59, "C": 1.44,
    "N": 1.34, "O": 1.25, "F": 1.08, "Ne": 1.10,
}
BOND_TOLERANCE = 1.3  # a pair is bonded when closer than 1.3 x (sum of covalent radii)


def hydrogen_chain(n_atoms: int, spacing: float) -> Molecule:
    """Linear chain of n equally spaced H atoms along z, spacing in bohr."""
    if n_atoms < 1:
        raise ValueError(f"hydrogen chain needs at least one atom, got {n_atoms}")
    coords = np.zeros((n_atoms, 3))
    coords[:, 2] = spacing * np.arange(n_atoms)
    return Molecule(
        np.ones(n_atoms, dtype=np.int64), coords, spin=n_atoms % 2,
        name=f"H{n_atoms}_d{spacing:.3f}",
    )


def hydrogen_chains(n_atoms: Sequence[int], spacings: Sequence[float]) -> list[GeometryRecord]:
    """All chains of the given lengths at the given spacings (scan coordinate = spacing)."""
    return [
        GeometryRecord(hydrogen_chain(n, d), compound=f"H{n}", scan=float(d))
        for n in n_atoms for d in spacings
    ]


def diatomic_scan(first: str, second: str, distances: Sequence[float]) -> list[GeometryRecord]:
    """A neutral diatomic (lowest spin) along z at each bond length (bohr; scan coordinate =
    bond length), e.g. LiH for a potential-energy curve."""
    records = []
    for distance in distances:
        if distance <= 0:
            raise ValueError(f"bond lengths must be positive, got {distance}")
        name = f"{first}{second}_R{distance:.3f}"
        electrons = atomic_number(first) + atomic_number(second)
        molecule = Molecule.from_symbols([first, second], [[0, 0, 0], [0, 0, distance]],
                                         unit="bohr", spin=electrons % 2, name=name)
        records.append(GeometryRecord(molecule, compound=f"{first}{second}", scan=float(distance)))
    return records


def random_rotation(key: np.random.Generator) -> np.ndarray:
    """A uniformly random proper rotation matrix [3, 3]."""
    q, r = np.linalg.qr(key.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def bonded_pairs(molecule: Molecule) -> list[tuple[int, int]]:
    """Atom pairs closer than BOND_TOLERANCE x the sum of their covalent radii."""
    pairs = []
    for i in range(molecule.n_atoms):
        for j in range(i + 1, molecule.n_atoms):
            cutoff = BOND_TOLERANCE * (
                COVALENT_RADII_BOHR.get(molecule.symbols[i], 2.0)
                + COVALENT_RADII_BOHR.get(molecule.symbols[j], 2.0)
            )
            if np.linalg.norm(molecule.coords[i] - molecule.coords[j]) < cutoff:
                pairs.append((i, j))
    return pairs


def distorted_variants(
    molecule: Molecule,
    count: int,
    seed: int,
    max_displacement: float = 0.2,
    bond_ratio: tuple[float, float] = (0.9, 1.15),
    rotate: bool = True,
    max_tries: int = 1000,
) -> list[GeometryRecord]:
    """Randomly displaced (and rotated) copies of a molecule.

    Each atom moves by a uniform random vector of at most ``max_displacement`` bohr per
    component; a draw is kept only if every bonded pair's length ratio new/old lies within
    ``bond_ratio``. The scan coordinate is the RMS displacement from the input geometry.
    """
    low, high = bond_ratio
    if not 0 < low <= 1 <= high:
        raise ValueError(f"bond_ratio must satisfy 0 < low <= 1 <= high, got {bond_ratio}")
    rng = np.random.default_rng(seed)
    pairs = bonded_pairs(molecule)
    base = molecule.coords - molecule.coords.mean(axis=0)
    records = []
    for index in range(count):
        for _ in range(max_tries):
            shifted = base + rng.uniform(-max_displacement, max_displacement, size=base.shape)
            ratios = [
                np.linalg.norm(shifted[i] - shifted[j]) / np.linalg.norm(base[i] - base[j])
                for i, j in pairs
            ]
            if all(low <= ratio <= high for ratio in ratios):
                break
        else:
            raise ValueError(
                f"no distortion of {molecule.name} within bond ratio {bond_ratio} after "
                f"{max_tries} tries; increase the ratio range or lower max_displacement"
            )
        rms = float(np.sqrt(np.mean(np.sum((shifted - base) ** 2, axis=1))))
        coords = shifted @ random_rotation(rng).T if rotate else shifted
        name = f"{molecule.name or molecule.formula}_dist{index:03d}"
        records.append(
            GeometryRecord(molecule.with_coords(coords, name=name),
                           compound=molecule.name or molecule.formula, scan=rms)
        )
    return records


def attach_references(records: Sequence[GeometryRecord],
                      references: Sequence[GeometryRecord]) -> list[GeometryRecord]:
    """Copy reference energies onto records with the same atoms and coordinates (1e-6 bohr)."""
    attached = []
    for record in records:
        m = record.molecule
        match = next((r for r in references
                      if np.array_equal(r.molecule.charges, m.charges)
                      and np.allclose(r.molecule.coords, m.coords, atol=1e-6)
                      and (r.molecule.charge, r.molecule.spin) == (m.charge, m.spin)), None)
        if match is not None:
            record = dataclasses.replace(
                record, reference_energy=match.reference_energy,
                reference_uncertainty=match.reference_uncertainty,
                reference_method=match.reference_method,
                reference_source=match.reference_source)
        attached.append(record)
    return attached


def reference_records(path: str | pathlib.Path) -> list[GeometryRecord]:
    """Convert a reference-energy JSON Lines file (shared/reference format) into records."""
    records = []
    for line in pathlib.Path(path).read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        molecule = Molecule.from_symbols(
            [a[0] for a in row["atoms"]], [a[1:4] for a in row["atoms"]], unit="bohr",
            charge=row.get("charge", 0), spin=row.get("spin", 0), name=row["name"],
        )
        compound = row["name"].split("_")[0]
        scan = None
        if molecule.n_atoms > 1:
            scan = float(np.linalg.norm(molecule.coords[1] - molecule.coords[0]))
        records.append(GeometryRecord(
            molecule, compound=compound, scan=scan,
            reference_energy=row["energy_Ha"], reference_uncertainty=row.get("uncertainty_Ha"),
            reference_method=row.get("method"), reference_source=row.get("source"),
        ))
    return records
