"""The phase demonstration's figure: final fitting loss vs rotation angle, and the loss of
each step vs step, for the equivariant ansatz and the baseline; sign flips marked."""

from __future__ import annotations

import pathlib
from typing import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from foundation_wf.analysis.phase_demo import FitCurves  # noqa: E402

COLOURS = {"equivariant": "tab:blue", "baseline": "tab:red", "baseline_canonical": "tab:gray"}


def plot_phase_demo(angles_deg: np.ndarray, flip_angles: np.ndarray,
                    fits: Mapping[str, FitCurves], output: pathlib.Path,
                    window: int = 50) -> None:
    """Left: final loss per angle (log scale), grey lines at the angles just after a sign
    flip. Right: each step's loss (running mean over ``window`` steps, fewer for short
    fits) vs step; dots mark
    the steps that trained a geometry just after a flip."""
    window = max(1, min(window, min(len(f.step_loss) for f in fits.values()) // 5))
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.4))
    for angle in flip_angles:
        left.axvline(angle, color="0.8", lw=1, zorder=0)
    for name, fit in fits.items():
        colour = COLOURS.get(name)
        left.semilogy(angles_deg, fit.final_loss, "o-", ms=3, color=colour, label=name)
        steps = np.arange(len(fit.step_loss))
        smooth = np.convolve(fit.step_loss, np.ones(window) / window, mode="valid")
        right.semilogy(steps[window - 1:], smooth, color=colour, label=f"{name} (mean of "
                                                                      f"{window})")
        at_flip = np.isin(angles_deg[fit.step_geometry], flip_angles)
        right.semilogy(steps[at_flip], fit.step_loss[at_flip], ".", ms=2, color=colour,
                       alpha=0.5)
    left.set(xlabel="rotation angle (degrees)", ylabel="final HF-fit loss",
             title=f"after the fit; grey: {len(flip_angles)} angles with a sign flip")
    right.set(xlabel="step", ylabel="HF-fit loss of the step's geometry",
              title="during the fit; dots: geometries just after a flip")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(output, dpi=120)
    plt.close(fig)
