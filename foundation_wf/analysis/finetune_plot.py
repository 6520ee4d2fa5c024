"""Plot of fine-tuning vs training from scratch: evaluated energies at each step budget."""

from __future__ import annotations

import pathlib
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from foundation_wf.analysis.finetune_vs_scratch import RUNS, BudgetEnergy  # noqa: E402
from foundation_wf.train.plots import running_median, vmc_rows  # noqa: E402


def plot_finetune_vs_scratch(energies: Sequence[BudgetEnergy],
                             run_folders: dict[str, pathlib.Path],
                             references: dict[str, float | None], output: pathlib.Path,
                             window: int = 20) -> None:
    """One row per geometry: evaluated energy (error bars: one standard error) vs optimizer
    step, with each run's training energy (running median of ``window`` logged steps) faint
    behind it (left); the same evaluated energies vs the run's wall time (right). Reference
    dashed."""
    geometries = list(dict.fromkeys(e.geometry for e in energies))
    fig, axes = plt.subplots(len(geometries), 2, figsize=(12, 4.2 * len(geometries)),
                             squeeze=False)
    for (by_step, by_time), geometry in zip(axes, geometries):
        shown = []
        for index, run in enumerate(RUNS):
            points = sorted((e for e in energies if e.run == run and e.geometry == geometry),
                            key=lambda e: e.step)
            if not points:
                continue
            color = f"C{index}"
            energy = np.array([e.energy for e in points])
            error = np.array([e.error for e in points])
            shown.append(energy)
            rows = vmc_rows(run_folders[run] / "metrics.jsonl", geometry)
            if rows:
                by_step.plot([r["step"] for r in rows],
                             running_median(np.array([r["energy"] for r in rows]), window),
                             color=color, alpha=0.3, linewidth=0.8)
            by_step.errorbar([e.step for e in points], energy, error, color=color, marker="o",
                             capsize=3, label=run)
            by_time.errorbar([e.wall_time for e in points], energy, error, color=color,
                             marker="o", capsize=3, label=run)
        reference = references.get(geometry)
        values = np.concatenate(shown)
        low = min([values.min()] + ([reference] if reference is not None else []))
        span = max(np.percentile(values, 90) - low, 1e-3)
        for ax in (by_step, by_time):
            if reference is not None:
                ax.axhline(reference, color="k", linestyle="--", linewidth=0.8,
                           label="reference")
            ax.set_ylim(low - 0.1 * span, low + 1.2 * span)
            ax.grid(alpha=0.3)
            ax.set_ylabel("E (Ha)")
        by_step.set_title(f"{geometry}: evaluated energy at each budget "
                          "(faint: training energy)")
        by_step.set_xlabel("optimizer steps")
        by_time.set_xlabel("wall time of the run (s, HF pretraining included)")
        by_time.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(output, dpi=110)
    plt.close(fig)
