"""JSON output that is always valid JSON: non-finite floats become null, files appear whole."""

from __future__ import annotations

import json
import math
import os
import pathlib
from typing import Any


def finite_or_null(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, +-inf), at any depth, replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    return value


def dumps(value: Any, **kwargs) -> str:
    """json.dumps with null for non-finite floats (never the non-JSON token NaN)."""
    return json.dumps(finite_or_null(value), allow_nan=False, **kwargs)


def write_text_whole(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed into place, so a reader
    (or a run killed meanwhile) sees the old file or the new one, never a part."""
    path = pathlib.Path(path)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def write(path: str | os.PathLike, value: Any, indent: int | None = 1) -> None:
    """Write ``value`` as JSON to ``path``, whole (see write_text_whole)."""
    write_text_whole(path, dumps(value, indent=indent))
