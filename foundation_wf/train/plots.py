"""PNG plots of a run: energy vs optimizer step, one panel per compound."""

from __future__ import annotations

import csv
import json
import math
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def running_median(values: np.ndarray, window: int) -> np.ndarray:
    return np.array([np.median(values[max(0, i - window + 1): i + 1])
                     for i in range(len(values))])


def plot_energy_vs_step(metrics_path: pathlib.Path, references: dict[str, float | None],
                        output: pathlib.Path, window: int = 20) -> None:
    """Energy vs step per geometry (running median of logged points), a panel per compound,
    reference energies dashed in the geometry's colour."""
    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line]
    rows = [r for r in rows if r.get("phase") == "vmc" and r.get("energy") is not None]
    if not rows:
        return
    compounds = sorted({r.get("compound", r["geometry"]) for r in rows})
    columns = min(3, len(compounds))
    lines = math.ceil(len(compounds) / columns)
    fig, axes = plt.subplots(lines, columns, figsize=(5 * columns, 3.6 * lines), squeeze=False)
    for ax, compound in zip(axes.ravel(), compounds):
        mine = [r for r in rows if r.get("compound", r["geometry"]) == compound]
        names = sorted({r["geometry"] for r in mine})
        energies = []
        for index, name in enumerate(names):
            steps = np.array([r["step"] for r in mine if r["geometry"] == name])
            energy = np.array([r["energy"] for r in mine if r["geometry"] == name])
            energies.append(energy)
            color = f"C{index % 10}"
            ax.plot(steps, running_median(energy, window), color=color, label=name, lw=1)
            if references.get(name) is not None:
                ax.axhline(references[name], color=color, linestyle="--", linewidth=0.8)
        values = np.concatenate(energies)
        refs = [references[n] for n in names if references.get(n) is not None]
        low = min([np.percentile(values, 1)] + refs)
        ax.set_ylim(low - 0.01, np.percentile(values, 95) + 0.01)
        ax.set_title(compound)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(f"E (Ha), running median of {window}")
        if len(names) <= 8:
            ax.legend(fontsize=6)
    for ax in axes.ravel()[len(compounds):]:
        ax.axis("off")
    fig.suptitle("VMC energy per compound (dashed: reference)")
    fig.tight_layout()
    fig.savefig(output, dpi=110)
    plt.close(fig)


def write_csv(rows: list[dict], output: pathlib.Path) -> None:
    """The per-geometry results table as CSV (energies in hartree)."""
    with open(output, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def plot_pes(rows: list[dict], output: pathlib.Path) -> None:
    """Energy vs scan coordinate per compound: VMC with error bars, HF, reference."""
    rows = [r for r in rows if r["scan"] is not None and r["energy"] is not None]
    compounds = sorted({r["compound"] for r in rows})
    if not compounds:
        return
    columns = min(3, len(compounds))
    lines = math.ceil(len(compounds) / columns)
    fig, axes = plt.subplots(lines, columns, figsize=(5 * columns, 3.6 * lines), squeeze=False)
    for ax, compound in zip(axes.ravel(), compounds):
        mine = sorted((r for r in rows if r["compound"] == compound), key=lambda r: r["scan"])
        scan = [r["scan"] for r in mine]
        ax.errorbar(scan, [r["energy"] for r in mine], yerr=[r["error"] for r in mine],
                    marker="o", ms=3, color="C0", label="VMC")
        ax.plot(scan, [r["hf_energy"] for r in mine], "s--", ms=3, color="C1", label="HF")
        with_ref = [r for r in mine if r["reference"] is not None]
        if with_ref:
            ax.plot([r["scan"] for r in with_ref], [r["reference"] for r in with_ref], "k*",
                    ms=7, label="reference")
        ax.set_title(compound)
        ax.set_xlabel("scan coordinate (bohr)")
        ax.set_ylabel("energy (Ha)")
        ax.legend(fontsize=7)
    for ax in axes.ravel()[len(compounds):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(output, dpi=110)
    plt.close(fig)


def plot_runs(run_folders: list[pathlib.Path], geometry: str, output: pathlib.Path,
              reference: float | None = None, window: int = 10) -> dict[str, float]:
    """Energy vs optimizer step of one geometry in several runs (e.g. fine-tuned vs from
    scratch). Returns each run's final evaluated energy (results.json) by folder name."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    finals = {}
    for index, folder in enumerate(run_folders):
        rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()
                if line]
        rows = [r for r in rows if r.get("phase") == "vmc" and r["geometry"] == geometry
                and r.get("energy") is not None]
        if not rows:
            raise ValueError(f"run {str(folder)!r} has no VMC steps on geometry {geometry!r}")
        steps = np.array([r["step"] for r in rows])
        energy = np.array([r["energy"] for r in rows])
        ax.plot(steps, running_median(energy, window), color=f"C{index}", label=folder.name)
        results = folder / "results.json"
        if results.exists():
            final = next((r for r in json.loads(results.read_text())
                          if r["geometry"] == geometry), None)
            if final and final["energy"] is not None:
                finals[folder.name] = final["energy"]
                ax.axhline(final["energy"], color=f"C{index}", linestyle=":", linewidth=0.8)
    if reference is not None:
        ax.axhline(reference, color="k", linestyle="--", linewidth=0.8, label="reference")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel(f"E (Ha), running median of {window} logged steps")
    ax.set_title(f"{geometry}: dotted = final evaluated energy")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(output, dpi=110)
    plt.close(fig)
    return finals
