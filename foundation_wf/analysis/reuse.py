"""Reusing finished pieces of a long analysis: a result stored next to the config it came
from is read back instead of recomputed while that config is unchanged."""

from __future__ import annotations

import json
import pathlib
from typing import Callable

from foundation_wf import jsonfile


def reuse_or_compute(marker: pathlib.Path, config: dict, compute: Callable[[], dict]) -> dict:
    """``compute()`` once per ``config``: its JSON result is kept in ``marker`` together with
    ``config`` and returned from there while the config is the same."""
    if marker.exists():
        saved = json.loads(marker.read_text())
        if saved.get("config") == config:
            return saved["result"]
    result = compute()
    marker.parent.mkdir(parents=True, exist_ok=True)
    jsonfile.write(marker, {"result": result, "config": config}, indent=None)
    return result
