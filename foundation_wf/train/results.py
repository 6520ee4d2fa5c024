"""A run's results: one row per geometry (energies in Ha), written as results.json/.csv
with the PES, energy-per-atom and training-curve plots, and printed as a table."""

from __future__ import annotations

import pathlib
from typing import Sequence

from foundation_wf import jsonfile
from foundation_wf.data.records import GeometryRecord
from foundation_wf.train.plots import (plot_energy_per_atom, plot_energy_vs_step, plot_pes,
                                       write_csv)
from foundation_wf.vmc.stats import Stats


def rows(records: Sequence[GeometryRecord], hf_energies: Sequence[float],
         optimizer_steps: Sequence[int], results: dict[str, Stats]) -> list[dict]:
    """One row per geometry: HF and VMC energies (Ha), the VMC error bar and
    autocorrelation time, energy per atom, the reference and the difference to it (Ha;
    None where unknown), and the optimizer steps the geometry was trained for."""
    table = []
    for record, hf_energy, steps in zip(records, hf_energies, optimizer_steps):
        stats = results.get(record.name)
        ref = record.reference_energy
        n_atoms = record.molecule.n_atoms
        table.append({
            "geometry": record.name, "compound": record.compound,
            "scan": record.scan, "n_atoms": n_atoms, "optimizer_steps": int(steps),
            "hf_energy": hf_energy,
            "energy": stats.mean if stats else None,
            "error": stats.error if stats else None,
            "energy_per_atom": stats.mean / n_atoms if stats else None,
            "tau": stats.tau if stats else None,
            "reference": ref,
            "difference": (stats.mean - ref) if (stats and ref is not None) else None,
        })
    return table


def write(folder: pathlib.Path, table: list[dict], references: dict[str, float | None]) -> None:
    """results.json/.csv, pes.png, per_atom.png and energy.png (training curves from
    metrics.jsonl, with ``references`` by geometry name) in the run folder."""
    jsonfile.write(folder / "results.json", table)
    write_csv(table, folder / "results.csv")
    plot_pes(table, folder / "pes.png")
    plot_energy_per_atom(table, folder / "per_atom.png")
    plot_energy_vs_step(folder / "metrics.jsonl", references, folder / "energy.png")


def format_table(table: list[dict]) -> str:
    """The results table as text (energies in Ha, differences in mHa)."""
    lines = [f"{'geometry':<22} {'E_HF':>12} {'E_VMC':>12} {'error':>9} {'E_VMC/atom':>11} "
             f"{'E_ref':>12} {'E-E_ref/mHa':>12}"]
    for r in table:
        fmt = lambda v, w, p: f"{v:{w}.{p}f}" if v is not None else f"{'-':>{w}}"  # noqa: E731
        diff = r["difference"] * 1e3 if r["difference"] is not None else None
        lines.append(f"{r['geometry']:<22} {fmt(r['hf_energy'], 12, 6)} "
                     f"{fmt(r['energy'], 12, 6)} {fmt(r['error'], 9, 6)} "
                     f"{fmt(r['energy_per_atom'], 11, 6)} "
                     f"{fmt(r['reference'], 12, 6)} {fmt(diff, 12, 2)}")
    return "\n".join(lines)
