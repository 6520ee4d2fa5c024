"""``fwf dataset make|show``: generate and inspect geometry datasets."""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from foundation_wf.data import generators
from foundation_wf.data.io import load_geometries, resolve_dataset, save_geometries
from foundation_wf.hf.reference import cbs_estimate
from foundation_wf.train.loggers import progress
from foundation_wf.train.state import select_records
from foundation_wf.systems import Molecule


def parse_spacings(text: str) -> list[float]:
    """'1.2,1.6,2.0' (a list) or '1.2:3.6:7' (start:stop:count, inclusive) in bohr."""
    if ":" in text:
        start, stop, count = text.split(":")
        return [float(v) for v in np.linspace(float(start), float(stop), int(count))]
    return [float(v) for v in text.split(",")]


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "dataset", help="generate or inspect geometry datasets",
        description="Generate (make) or list (show) geometry datasets: "
                    "datasets/<name>/geometries.jsonl, coordinates in bohr.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    make = actions.add_parser("make", help="generate a dataset",
                              description="Generate a seeded geometry dataset.")
    kinds = make.add_subparsers(dest="kind", required=True, metavar="KIND")

    chain = kinds.add_parser("hchain", help="linear hydrogen chains",
                             description="Linear H_n chains along z at given spacings (bohr).")
    chain.add_argument("--n-atoms", type=int, nargs="+", required=True, help="chain lengths")
    chain.add_argument("--spacings", type=parse_spacings, required=True,
                       help="H-H spacings in bohr: '1.2,1.8' or start:stop:count '1.2:3.6:7'")
    chain.add_argument("--reference", default=None,
                       help="reference-energy JSON Lines file: geometries found there (same "
                            "atoms and coordinates) get its reference energies")
    chain.add_argument("--out", required=True, help="output dataset folder")
    chain.set_defaults(run=run_make)

    diatomic = kinds.add_parser(
        "diatomic", help="bond-length scan of a diatomic molecule",
        description="A neutral diatomic (lowest spin) along z at given bond lengths (bohr).")
    diatomic.add_argument("symbols", nargs=2, metavar="ELEMENT", help="e.g. Li H")
    diatomic.add_argument("--distances", type=parse_spacings, required=True,
                          help="bond lengths in bohr: '2.4,3.4' or start:stop:count '2.4:5:6'")
    diatomic.add_argument("--out", required=True, help="output dataset folder")
    diatomic.set_defaults(run=run_make)

    distort = kinds.add_parser(
        "distort", help="random distortions of molecules from XYZ files",
        description="Randomly displaced and rotated copies of each molecule; bonded pairs keep "
                    "their length ratio new/old within --bond-ratio.",
    )
    distort.add_argument("xyz", nargs="+", help="XYZ files (angstrom)")
    distort.add_argument("--count", type=int, default=4, help="variants per molecule")
    distort.add_argument("--max-displacement", type=float, default=0.2,
                         help="largest displacement per coordinate, bohr")
    distort.add_argument("--bond-ratio", type=float, nargs=2, default=(0.9, 1.15),
                         metavar=("LOW", "HIGH"), help="allowed bond-length ratio range")
    distort.add_argument("--no-rotate", action="store_true", help="keep the orientation")
    distort.add_argument("--seed", type=int, default=0)
    distort.add_argument("--out", required=True, help="output dataset folder")
    distort.set_defaults(run=run_make)

    reference = kinds.add_parser(
        "reference", help="dataset from a reference-energy file",
        description="Convert a reference-energy JSON Lines file (name, atoms in bohr, charge, "
                    "spin, energy_Ha, ...) into a geometry dataset that keeps the references.",
    )
    reference.add_argument("source", help="e.g. ../shared/reference/energies.jsonl")
    reference.add_argument("--out", required=True, help="output dataset folder")
    reference.set_defaults(run=run_make)

    add = actions.add_parser(
        "add-references", help="CCSD(T)/CBS reference energies for a dataset's geometries",
        description="Compute an all-electron CCSD(T) complete-basis-set estimate (PySCF; "
                    "correlation extrapolated from cc-pCV(X-1)Z/cc-pCVXZ, HF at cc-pCV(X+1)Z; "
                    "see foundation_wf.hf.reference) for every geometry without a reference, "
                    "and write the dataset with them. The file is rewritten after each "
                    "geometry: an interrupted run continues where it stopped when started "
                    "again with the output as DATASET. Minutes per geometry for 10-electron "
                    "molecules at X = 4.")
    add.add_argument("dataset", help="dataset name under datasets/, folder or .jsonl file")
    add.add_argument("--out", required=True, help="output dataset folder (may be DATASET)")
    add.add_argument("--geometries", nargs="+", default=None,
                     help="only these geometries (the others are copied unchanged)")
    add.add_argument("--cardinal", type=int, choices=(3, 4), default=4,
                     help="X of the larger correlation basis (default 4: TZ/QZ)")
    add.set_defaults(run=run_add_references)

    show = actions.add_parser("show", help="list a dataset's geometries",
                              description="Print one line per geometry of a dataset.")
    show.add_argument("dataset", help="dataset name under datasets/, folder or .jsonl file")
    show.set_defaults(run=run_show)


def run_make(args: argparse.Namespace) -> int:
    if args.kind == "hchain":
        records = generators.hydrogen_chains(args.n_atoms, args.spacings)
        if args.reference:
            records = generators.attach_references(
                records, generators.reference_records(args.reference))
        card = (f"# Hydrogen chains\n\nLinear H_n chains along z, n in {args.n_atoms}, "
                f"spacings (bohr) {[round(s, 4) for s in args.spacings]}. Neutral, "
                "lowest spin. Scan coordinate: the H-H spacing in bohr."
                + (f" Reference energies where available from {args.reference}."
                   if args.reference else " No reference energies.") + "\n")
    elif args.kind == "diatomic":
        records = generators.diatomic_scan(*args.symbols, args.distances)
        card = (f"# {''.join(args.symbols)} bond scan\n\nNeutral {'-'.join(args.symbols)} "
                f"along z at bond lengths (bohr) {[round(d, 4) for d in args.distances]}, "
                "lowest spin. Scan coordinate: the bond length in bohr.\n")
    elif args.kind == "distort":
        records = []
        for index, path in enumerate(args.xyz):
            molecule = Molecule.from_xyz(path)
            records += generators.distorted_variants(
                molecule, args.count, seed=args.seed + index,
                max_displacement=args.max_displacement, bond_ratio=tuple(args.bond_ratio),
                rotate=not args.no_rotate,
            )
        card = (f"# Distorted molecules\n\n{args.count} random distortions of each of "
                f"{', '.join(sorted({r.compound for r in records}))} (seed {args.seed}, "
                f"max displacement {args.max_displacement} bohr per coordinate, bond-length "
                f"ratio within {list(args.bond_ratio)}, randomly rotated: {not args.no_rotate})."
                " Scan coordinate: RMS displacement from the equilibrium geometry, bohr.\n")
    else:
        records = generators.reference_records(args.source)
        card = ("# Reference systems\n\nSmall systems with exact or near-exact total energies "
                "(fields reference_energy_Ha, reference_uncertainty_Ha, reference_method, "
                "reference_source). Scan coordinate: distance between the first two atoms.\n")
    path = save_geometries(records, args.out, card)
    print(f"wrote {len(records)} geometries to {path}")
    return 0


def run_add_references(args: argparse.Namespace) -> int:
    source = resolve_dataset(args.dataset)
    records = load_geometries(source)
    names = {r.name for r in select_records(records, args.geometries)}
    card_path = source.parent / "README.md"
    card = card_path.read_text() if card_path.is_file() else ""
    note = ("References computed by `fwf dataset add-references` (CCSD(T)/CBS, see each "
            "row's reference_source).")
    card = card if note in card else f"{card.rstrip()}\n\n{note}\n".lstrip()
    todo = [i for i, r in enumerate(records) if r.name in names and r.reference_energy is None]
    for index in progress(todo, desc="CCSD(T)/CBS", unit="geom"):
        record = records[index]
        estimate = cbs_estimate(record.molecule, args.cardinal)
        records[index] = dataclasses.replace(
            record, reference_energy=estimate.energy,
            reference_uncertainty=estimate.uncertainty, reference_method=estimate.method,
            reference_source=estimate.source)
        save_geometries(records, args.out, card)
        print(f"{record.name}: {estimate.energy:.6f} +- {estimate.uncertainty:.6f} Ha",
              flush=True)
    path = save_geometries(records, args.out, card)
    print(f"{len(todo)} reference(s) computed; wrote {path}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    records = load_geometries(args.dataset)
    print(f"{'name':<28} {'compound':<10} {'atoms':>5} {'elec':>5} {'2S':>3} {'scan':>8} "
          f"{'reference/Ha':>14}")
    for r in records:
        m = r.molecule
        scan = f"{r.scan:8.3f}" if r.scan is not None else f"{'-':>8}"
        ref = f"{r.reference_energy:14.6f}" if r.reference_energy is not None else f"{'-':>14}"
        print(f"{m.name:<28} {r.compound:<10} {m.n_atoms:>5} {m.n_electrons:>5} {m.spin:>3} "
              f"{scan} {ref}")
    print(f"{len(records)} geometries")
    return 0
