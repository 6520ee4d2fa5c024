"""``fwf hf DATASET``: Hartree-Fock energies and descriptor shapes for every geometry."""

from __future__ import annotations

import argparse


from foundation_wf.data.io import load_geometries
from foundation_wf.train.loggers import progress
from foundation_wf.hf import DescriptorCache, DescriptorSettings, geometry_hf
from foundation_wf.hf.settings import REFERENCES


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "hf", help="Hartree-Fock table of a dataset",
        description="Run (or read from the cache) Hartree-Fock and Foster-Boys localization "
                    "for every geometry of a dataset; print the HF energy, orbitals per spin, "
                    "descriptor shape and the reference energy where known.",
    )
    parser.add_argument("dataset", help="dataset name under datasets/, folder or .jsonl file")
    add_descriptor_arguments(parser)
    parser.set_defaults(run=run)


def add_descriptor_arguments(parser: argparse.ArgumentParser) -> None:
    """--basis, --elements, --reference and --cache-dir: the descriptor settings of the HF
    table."""
    defaults = DescriptorSettings()
    parser.add_argument("--basis", default=defaults.basis, help="PySCF basis (default sto-6g)")
    parser.add_argument("--elements", nargs="+", default=list(defaults.elements),
                        help="element set of the descriptors (default H..Ne)")
    parser.add_argument("--reference", choices=REFERENCES, default=defaults.reference,
                        help="restricted (RHF/ROHF) or unrestricted (UHF where the restricted "
                             "solution is unstable, as for stretched bonds; the default)")
    parser.add_argument("--cache-dir", default=None,
                        help="HF cache folder (default $FWF_CACHE_DIR or ~/.cache/foundation_wf/hf)")


def run(args: argparse.Namespace) -> int:
    settings = DescriptorSettings(basis=args.basis, elements=tuple(args.elements),
                                  reference=args.reference)
    records = load_geometries(args.dataset)
    for record in records:  # bad input fails here, before any SCF
        record.molecule.check_elements(settings.elements)
    cache = DescriptorCache(args.cache_dir)
    rows = []
    for record in progress(records, desc="Hartree-Fock", unit="geom", leave=False):
        result = geometry_hf(record.molecule, settings, cache)
        rows.append((record, result))
    print(f"{'name':<24} {'method':<5} {'E_HF/Ha':>13} {'n_up':>4} {'n_dn':>4} "
          f"{'descriptor up':>15} {'E_ref/Ha':>13} {'E_HF-E_ref/mHa':>15}")
    for record, result in rows:
        up = result.descriptors[0].shape
        ref = record.reference_energy
        ref_text = f"{ref:13.6f}" if ref is not None else f"{'-':>13}"
        diff_text = f"{1e3 * (result.energy - ref):15.2f}" if ref is not None else f"{'-':>15}"
        print(f"{record.name:<24} {result.orbitals.method:<5} {result.energy:13.6f} "
              f"{result.orbitals.coeff_up.shape[1]:>4} {result.orbitals.coeff_down.shape[1]:>4} "
              f"{str(list(up)):>15} {ref_text} {diff_text}")
    return 0
