"""Loggers (callbacks) of a run: metrics files and the progress bar."""

from __future__ import annotations

import csv
import json
import math
import pathlib
import time

from tqdm import tqdm


class MetricsWriter:
    """Appends one row per logged step to metrics.jsonl and metrics.csv in the run folder."""

    fields = ("phase", "step", "geometry", "energy", "variance", "acceptance", "step_size",
              "skipped", "wall_time")

    def __init__(self, folder: pathlib.Path):
        self.jsonl = open(folder / "metrics.jsonl", "a", buffering=1)
        csv_path = folder / "metrics.csv"
        new = not csv_path.exists()
        self.csv_file = open(csv_path, "a", newline="", buffering=1)
        self.csv = csv.DictWriter(self.csv_file, fieldnames=self.fields, extrasaction="ignore")
        if new:
            self.csv.writeheader()

    def __call__(self, row: dict) -> None:
        self.jsonl.write(json.dumps(row) + "\n")
        self.csv.writerow(row)

    def close(self) -> None:
        self.jsonl.close()
        self.csv_file.close()


class ProgressBar:
    """tqdm bar over a phase's steps with energy, variance, acceptance and steps/s."""

    def __init__(self, total: int, description: str, initial: int = 0):
        self.bar = tqdm(total=total, desc=description, unit="step", dynamic_ncols=True,
                        initial=initial)
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
