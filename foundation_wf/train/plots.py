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
    rows = [r for r in read_metrics(metrics_path)
            if r.get("phase") == "vmc" and r.get("energy") is not None]
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


def plot_energy_per_atom(rows: list[dict], output: pathlib.Path) -> None:
    """Energy per atom vs scan coordinate, one line per compound on shared axes (with error
    bars; references as stars): a size-extensive model puts chains of every length on
    nearly the same curve."""
    rows = [r for r in rows if r["scan"] is not None and r["energy_per_atom"] is not None]
    compounds = sorted({r["compound"] for r in rows}, key=lambda c: (len(c), c))
    if len(compounds) < 2:
        return
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for index, compound in enumerate(compounds):
        mine = sorted((r for r in rows if r["compound"] == compound), key=lambda r: r["scan"])
        color = f"C{index % 10}"
        ax.errorbar([r["scan"] for r in mine], [r["energy_per_atom"] for r in mine],
                    yerr=[r["error"] / r["n_atoms"] for r in mine], marker="o", ms=3,
                    color=color, label=compound)
        with_ref = [r for r in mine if r["reference"] is not None]
        ax.plot([r["scan"] for r in with_ref], [r["reference"] / r["n_atoms"] for r in with_ref],
                "*", color=color, ms=8)
    ax.set_xlabel("scan coordinate (bohr)")
    ax.set_ylabel("energy per atom (Ha)")
    ax.set_title("energy per atom (stars: references)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(output, dpi=110)
    plt.close(fig)


def read_metrics(metrics_path: pathlib.Path) -> list[dict]:
    """Every row of a run's metrics.jsonl, in file order."""
    return [json.loads(line) for line in metrics_path.read_text().splitlines() if line]


def vmc_rows(metrics_path: pathlib.Path, geometry: str) -> list[dict]:
    """The logged optimizer steps of one geometry with a finite energy, in file order."""
    return [r for r in read_metrics(metrics_path) if r.get("phase") == "vmc"
            and r["geometry"] == geometry and r.get("energy") is not None]


def elapsed_seconds(rows: list[dict]) -> np.ndarray:
    """Wall time since the first row, summed over the rows' increments: a resumed run restarts
    its clock, and the time it was stopped is not counted."""
    wall = np.array([r["wall_time"] for r in rows], dtype=float)
    return np.concatenate([[0.0], np.cumsum(np.clip(np.diff(wall), 0.0, None))])


def plot_runs(run_folders: list[pathlib.Path], geometry: str, output: pathlib.Path,
              reference: float | None = None, window: int = 10,
              labels: list[str] | None = None) -> dict[str, float]:
    """Energy of one geometry in several runs (e.g. fine-tuned vs from scratch, or several
    optimizers): running median over ``window`` logged steps vs optimizer step (left) and vs
    wall time since the first optimizer step (right). Returns each run's final evaluated
    energy (results.json) by label (default: folder name)."""
    labels = labels or [folder.name for folder in run_folders]
    fig, (by_step, by_time) = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    finals, shown = {}, []
    for index, (folder, label) in enumerate(zip(run_folders, labels)):
        rows = vmc_rows(folder / "metrics.jsonl", geometry)
        if not rows:
            raise ValueError(f"run {str(folder)!r} has no VMC steps on geometry {geometry!r}")
        energy = running_median(np.array([r["energy"] for r in rows]), window)
        shown.append(energy)
        color = f"C{index % 10}"
        by_step.plot([r["step"] for r in rows], energy, color=color, label=label)
        by_time.plot(elapsed_seconds(rows), energy, color=color, label=label)
        results = folder / "results.json"
        if results.exists():
            final = next((r for r in json.loads(results.read_text())
                          if r["geometry"] == geometry), None)
            if final and final["energy"] is not None:
                finals[label] = final["energy"]
                by_step.axhline(final["energy"], color=color, linestyle=":", linewidth=0.8)
    values = np.concatenate(shown)
    values = values[np.isfinite(values)]
    low = min([np.percentile(values, 0.5)] + ([reference] if reference is not None else []))
    span = max(np.percentile(values, 90) - low, 1e-3)
    by_step.set_ylim(low - 0.05 * span, low + span)
    for ax in (by_step, by_time):
        if reference is not None:
            ax.axhline(reference, color="k", linestyle="--", linewidth=0.8, label="reference")
        ax.grid(alpha=0.3)
    by_step.set_xlabel("optimizer step")
    by_time.set_xlabel("wall time since the first optimizer step (s)")
    by_step.set_ylabel(f"E (Ha), running median of {window} logged steps")
    by_step.set_title(f"{geometry}: dotted = final evaluated energy")
    by_time.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(output, dpi=110)
    plt.close(fig)
    return finals
