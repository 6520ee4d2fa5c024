"""The scaling study's figure: one panel per axis (steps, preset, compounds), each point
with its error bar."""

from __future__ import annotations

import math
import pathlib
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from foundation_wf.analysis.scaling import AXES, ScalingPoint  # noqa: E402

LABELS = {"steps": "pretraining steps", "preset": "model preset",
          "compounds": "compounds in the pretraining data"}


def plot_scaling(points: Sequence[ScalingPoint], title: str, output: pathlib.Path) -> None:
    """Zero-shot error vs reference (mHa) per axis, or the mean energy (Ha) when the
    held-out set has no references."""
    with_reference = any(math.isfinite(p.error_vs_reference) for p in points)
    fig, axes = plt.subplots(1, len(AXES), figsize=(14, 4.2))
    for ax, axis in zip(axes, AXES):
        chosen = [p for p in points if p.axis == axis]
        x = list(range(len(chosen)))
        y = [p.error_vs_reference if with_reference else p.energy for p in chosen]
        bars = [p.error_bar if with_reference else p.error_bar / 1e3 for p in chosen]
        ax.errorbar(x, y, yerr=bars, fmt="o-", capsize=4)
        ax.set_xticks(x, [str(p.value) for p in chosen])
        ax.set(xlabel=LABELS[axis],
               ylabel="zero-shot E - E_ref (mHa)" if with_reference else "zero-shot E (Ha)")
        if with_reference:
            ax.axhline(0.0, color="0.5", lw=0.8, ls="--")
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(output, dpi=120)
    plt.close(fig)
