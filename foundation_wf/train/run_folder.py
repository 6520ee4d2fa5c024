"""A run folder: its files, and their integrity (one writer at a time, resume only with the
same trajectory settings, metrics that hold every step once).

    folder = RunFolder(path, is_main)       # RunFolderError naming the lock holder's pid
    folder.write_config(config_dict)        # config.yaml
    folder.start_metrics() / folder.resume_metrics(step)
    folder.log(row)                         # stamped with the run's wall time
    check_resume_settings(saved, wanted)    # RunFolderError listing what differs
Checkpoints live in its ``checkpoints/`` subfolder (``checkpoint.manager``).
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import pathlib
import time
from typing import Any, Iterable

import yaml

from foundation_wf import jsonfile
from foundation_wf.train.loggers import MetricsWriter

LOCK_FILE = ".lock"
# Settings a resumed run may change: they do not alter the optimisation trajectory.
# (dataset and geometries are checked through the dataset fingerprint instead.)
RESUMABLE_CHANGES = ("steps", "output", "log_every", "local_energy_chunk", "evaluation.steps",
                     "checkpoint.every", "checkpoint.keep", "dataset", "geometries")
# Rows of these phases are kept on resume: the set-up before the first checkpoint, and the
# record of divergence recoveries (events, not steps).
KEPT_PHASES = ("hf_pretrain", "burn_in", "recovery")


class RunFolderError(RuntimeError):
    """A run folder that this run may not write (locked, or made with other settings)."""


class RunFolderLock:
    """An exclusive advisory lock (fcntl.flock) on ``<folder>/.lock``, holding the pid.

    The kernel releases it when the process ends, also on SIGKILL."""

    def __init__(self, folder: pathlib.Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / LOCK_FILE
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self.fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(self.fd)
            raise RunFolderError(f"run folder {str(folder)!r} is in use by process {holder}; "
                                 "wait for it to finish or choose another output") from None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None


def _flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def settings_differences(saved: dict, wanted: dict, defaults: dict | None = None,
                         allowed: Iterable[str] = RESUMABLE_CHANGES) -> tuple[list[str], list[str]]:
    """(refused, allowed) differences between two config dicts, as "key: old -> new". A
    setting the saved config lacks (added to foundation_wf since) had, in effect, its
    value in ``defaults``."""
    saved, wanted, defaults = _flatten(saved), _flatten(wanted), _flatten(defaults or {})
    refused, accepted = [], []
    for key in sorted(set(saved) | set(wanted)):
        old, new = saved.get(key, defaults.get(key)), wanted.get(key)
        if old != new:
            (accepted if key in allowed else refused).append(f"{key}: {old!r} -> {new!r}")
    return refused, accepted


def check_resume_settings(folder: pathlib.Path, saved: dict, wanted: dict,
                          defaults: dict | None = None) -> list[str]:
    """Refuse to resume with settings that change the trajectory; returns the allowed
    changes (e.g. more steps) for the caller to report. ``defaults``: see
    ``settings_differences``."""
    refused, accepted = settings_differences(saved, wanted, defaults)
    if refused:
        raise RunFolderError(
            f"run folder {str(folder)!r} was started with other settings ({'; '.join(refused)}); "
            "resume with the original values or choose a new output")
    return accepted


def truncate_metrics(folder: pathlib.Path, step: int, fields: tuple[str, ...]) -> float:
    """Keep the rows of KEPT_PHASES and the other rows before ``step`` in metrics.jsonl and
    metrics.csv (rewritten atomically); returns the last kept row's wall_time (s)."""
    jsonl = folder / "metrics.jsonl"
    if not jsonl.exists():
        return 0.0
    kept = []
    for line in jsonl.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a line cut by a kill
            continue
        if row.get("phase") in KEPT_PHASES or row.get("step", step) < step:
            kept.append(row)
    jsonfile.write_text_whole(jsonl, "".join(jsonfile.dumps(row) + "\n" for row in kept))
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(kept)
    jsonfile.write_text_whole(folder / "metrics.csv", table.getvalue())
    return max((row.get("wall_time") or 0.0 for row in kept), default=0.0)


class RunFolder:
    """The files of one run: the lock, config.yaml and the metrics files, written by the
    first process only (``is_main``; multi-host runs share the folder), and the run's
    clock (the wall time its metrics rows carry, continued across resumes)."""

    def __init__(self, path: pathlib.Path, is_main: bool):
        self.path = path
        self.is_main = is_main
        self.lock = RunFolderLock(path) if is_main else None
        self.metrics: MetricsWriter | None = None
        self.clock_start = time.perf_counter()

    def write_config(self, config: dict) -> None:
        if self.is_main:
            (self.path / "config.yaml").write_text(yaml.safe_dump(config))

    def start_metrics(self) -> None:
        """Fresh metrics files; the clock starts at 0."""
        self._open_metrics(append=False, wall_time=0.0)

    def resume_metrics(self, step: int) -> None:
        """Continue the metrics files at ``step`` (its rows and later ones dropped, see
        ``truncate_metrics``), the clock at the last kept row's wall time."""
        self._close_metrics()
        wall_time = (truncate_metrics(self.path, step, MetricsWriter.fields)
                     if self.is_main else 0.0)
        self._open_metrics(append=True, wall_time=wall_time)

    def _open_metrics(self, append: bool, wall_time: float) -> None:
        self.clock_start = time.perf_counter() - wall_time
        if self.is_main and self.metrics is None:
            self.metrics = MetricsWriter(self.path, append=append)

    def _close_metrics(self) -> None:
        if self.metrics is not None:
            self.metrics.close()
            self.metrics = None

    def log(self, row: dict) -> None:
        """Stamp ``row`` with the run's wall time (s) and append it to the metrics files
        (when open)."""
        row["wall_time"] = round(time.perf_counter() - self.clock_start, 3)
        if self.metrics is not None:
            self.metrics(row)

    def close(self) -> None:
        """Close the metrics files and release the lock."""
        self._close_metrics()
        if self.lock is not None:
            self.lock.release()
