"""PNG plots of a run: energy vs step per geometry, with reference lines."""

from __future__ import annotations

import json
import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def running_median(values: np.ndarray, window: int) -> np.ndarray:
    return np.array([np.median(values[max(0, i - window + 1): i + 1])
                     for i in range(len(values))])


def plot_energy_vs_step(metrics_path: pathlib.Path, references: dict[str, float],
                        output: pathlib.Path) -> None:
    """Energy vs optimizer step for every geometry (running median), reference dashed."""
    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line]
    rows = [r for r in rows if r.get("phase") == "vmc" and r.get("energy") is not None]
    if not rows:
        return
    names = sorted({r["geometry"] for r in rows})
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for index, name in enumerate(names):
        steps = np.array([r["step"] for r in rows if r["geometry"] == name])
        energy = np.array([r["energy"] for r in rows if r["geometry"] == name])
        color = f"C{index % 10}"
        ax.plot(steps, running_median(energy, 20), color=color, label=name)
        if references.get(name) is not None:
            ax.axhline(references[name], color=color, linestyle="--", linewidth=0.8)
    finite = np.concatenate([[r["energy"] for r in rows]])
    low = min(min(v for v in references.values() if v is not None) if any(
        v is not None for v in references.values()) else finite.min(), np.percentile(finite, 1))
    ax.set_ylim(low - 0.01, np.percentile(finite, 90) + 0.01)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("energy (Ha), running median of 20")
    ax.set_title("VMC energy (dashed: reference)")
    if len(names) <= 12:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(output, dpi=120)
    plt.close(fig)
