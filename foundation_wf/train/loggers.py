"""Loggers (callbacks) of a run: metrics files and the progress bar."""

from __future__ import annotations

import csv
import math
import pathlib
import sys
import time

from tqdm import tqdm

from foundation_wf import jsonfile


class MetricsWriter:
    """Appends one row per logged step to metrics.jsonl and metrics.csv in the run folder."""

    fields = ("phase", "step", "geometry", "energy", "variance", "acceptance", "step_size",
              "skipped", "nonfinite_walkers", "wall_time")

    def __init__(self, folder: pathlib.Path, append: bool):
        """``append``: continue the files of a resumed run (see run_folder.truncate_metrics);
        otherwise start them afresh."""
        mode = "a" if append else "w"
        self.jsonl = open(folder / "metrics.jsonl", mode, buffering=1)
        csv_path = folder / "metrics.csv"
        new = not (append and csv_path.exists())
        self.csv_file = open(csv_path, mode, newline="", buffering=1)
        self.csv = csv.DictWriter(self.csv_file, fieldnames=self.fields, extrasaction="ignore")
        if new:
            self.csv.writeheader()

    def __call__(self, row: dict) -> None:
        self.jsonl.write(jsonfile.dumps(row) + "\n")
        self.csv.writerow(row)

    def close(self) -> None:
        self.jsonl.close()
        self.csv_file.close()


def progress(iterable=None, **kwargs) -> tqdm:
    """A tqdm bar that redraws at most every 0.5 s on a terminal and every 30 s in a log file
    or pipe (so logs of long runs stay readable)."""
    interactive = sys.stderr.isatty()
    kwargs.setdefault("mininterval", 0.5 if interactive else 30.0)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)


class ProgressBar:
    """tqdm bar over a phase's steps with energy, variance, acceptance and steps/s."""

    def __init__(self, total: int, description: str, initial: int = 0):
        self.bar = progress(total=total, desc=description, unit="step", initial=initial)
        self.start = time.perf_counter()

    def __call__(self, row: dict) -> None:
        self.bar.update(row["step"] + 1 - self.bar.n)
        energy = row.get("energy")
        if energy is not None and math.isfinite(energy):
            self.bar.set_postfix(geom=row["geometry"], E=f"{energy:.5f}",
                                 var=f"{row['variance']:.3g}",
                                 acc=f"{row['acceptance']:.2f}", refresh=False)

    def close(self) -> None:
        self.bar.close()
