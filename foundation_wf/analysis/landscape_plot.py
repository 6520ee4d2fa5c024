"""Contour plots of loss-landscape grids, one panel per sample count, shared colour levels."""

from __future__ import annotations

import pathlib
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from foundation_wf.analysis.landscape import LandscapeGrid  # noqa: E402


def plot_landscapes(grids: Sequence[LandscapeGrid], title: str, output: pathlib.Path,
                    levels: int = 30) -> None:
    """Filled contours of E(a, b) - E(0, 0) in mHa; '+' marks the trained parameters, 'x'
    the lowest grid point. Colour levels span the lowest value to the 75th percentile of all
    panels, higher values share the top colour."""
    shifted = [1e3 * (g.energy - g.centre) for g in grids]
    finite = np.concatenate([s[np.isfinite(s)] for s in shifted])
    bounds = np.linspace(finite.min(), np.percentile(finite, 75), levels)
    fig, axes = plt.subplots(1, len(grids), figsize=(5.2 * len(grids), 4.6), squeeze=False)
    for ax, grid, values in zip(axes[0], grids, shifted):
        # energy[i, j] belongs to (a[i], b[j]): a is the horizontal axis.
        filled = ax.contourf(grid.a, grid.b, values.T, levels=bounds, extend="both",
                             cmap="viridis")
        ax.contour(grid.a, grid.b, values.T, levels=bounds[::3], colors="white",
                   linewidths=0.4)
        ax.plot(0, 0, "r+", ms=12, mew=2, label="trained")
        low_a, low_b = grid.argmin
        ax.plot(low_a, low_b, "wx", ms=9, mew=2, label="grid minimum")
        ax.set_title(f"{grid.n_samples} samples per point; roughness "
                     f"{1e3 * grid.roughness:.2f} mHa")
        ax.set_xlabel("a (direction 1)")
        ax.set_ylabel("b (direction 2)")
        ax.legend(fontsize=7, loc="lower right")
        fig.colorbar(filled, ax=ax, label="E - E(0,0) (mHa)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(output, dpi=110)
    plt.close(fig)
