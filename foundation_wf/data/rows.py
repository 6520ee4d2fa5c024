"""Checks of a geometry JSON Lines file, row by row, before any library parses it.

Each error names the file, the line and the field, e.g.
``datasets/x/geometries.jsonl:3: field 'charge' must be an integer, got 0.5``.
"""

from __future__ import annotations

import json
import math
import pathlib
import re
from typing import Any

MAX_NAME_LENGTH = 80
# Geometry names become file and plot labels: letters, digits and . _ - + = ( ) , only.
NAME_PATTERN = re.compile(r"[A-Za-z0-9._\-+=(),]+")
REQUIRED = ("name", "symbols", "coordinates_bohr")
OPTIONAL_STRINGS = ("compound", "reference_method", "reference_source")
OPTIONAL_NUMBERS = ("scan", "reference_energy_Ha", "reference_uncertainty_Ha")
INTEGERS = ("charge", "spin")
FIELDS = (*REQUIRED, *INTEGERS, *OPTIONAL_STRINGS, *OPTIONAL_NUMBERS)


class RowError(ValueError):
    """A row of a geometry file that does not fit the schema."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_name(name: Any) -> str | None:
    """Why ``name`` cannot be a geometry name, or None when it can."""
    if not isinstance(name, str):
        return f"must be a string, got {type(name).__name__}"
    if not 0 < len(name) <= MAX_NAME_LENGTH:
        return f"must have 1 to {MAX_NAME_LENGTH} characters, got {len(name)}"
    if not NAME_PATTERN.fullmatch(name):
        return "may hold only letters, digits and . _ - + = ( ) ,"
    return None


def row_problem(row: Any) -> str | None:
    """The first problem of one parsed row as "field 'x' ...", or None."""
    if not isinstance(row, dict):
        return f"a row must be a JSON object, got {type(row).__name__}"
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        return f"unknown field {unknown[0]!r} (fields: {', '.join(FIELDS)})"
    for field in REQUIRED:
        if row.get(field) is None:
            return f"field {field!r} is missing"
    problem = check_name(row["name"])
    if problem:
        return f"field 'name' {problem}"
    symbols, coordinates = row["symbols"], row["coordinates_bohr"]
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        return f"field 'symbols' must be a list of element symbols, got {symbols!r:.60}"
    if not isinstance(coordinates, list) or not all(
            isinstance(xyz, list) and len(xyz) == 3 and all(_is_number(c) for c in xyz)
            for xyz in coordinates):
        return "field 'coordinates_bohr' must be a list of [x, y, z] numbers"
    if len(coordinates) != len(symbols):
        return (f"field 'coordinates_bohr' has {len(coordinates)} atoms, 'symbols' has "
                f"{len(symbols)}")
    if not all(math.isfinite(c) for xyz in coordinates for c in xyz):
        return "field 'coordinates_bohr' holds a non-finite number"
    for field in INTEGERS:
        value = row.get(field)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            return f"field {field!r} must be an integer, got {value!r}"
    for field in OPTIONAL_STRINGS:
        value = row.get(field)
        if value is not None and not isinstance(value, str):
            return f"field {field!r} must be a string, got {value!r}"
    for field in OPTIONAL_NUMBERS:
        value = row.get(field)
        if value is not None and not (_is_number(value) and math.isfinite(value)):
            return f"field {field!r} must be a finite number, got {value!r}"
    return None


def check_rows(path: pathlib.Path) -> int:
    """Check every line of a geometry JSON Lines file; returns the number of rows.

    Raises RowError "<path>:<line>: <problem>" at the first bad line."""
    data = path.read_bytes()
    count = 0
    for number, raw in enumerate(data.splitlines(), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise RowError(f"{path}:{number}: not UTF-8 text (byte {error.start})") from None
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise RowError(f"{path}:{number}: invalid JSON ({error.msg}, column "
                           f"{error.colno})") from None
        problem = row_problem(row)
        if problem:
            raise RowError(f"{path}:{number}: {problem}")
        count += 1
    if count == 0:
        raise RowError(f"{path}: no geometries (the file is empty)")
    return count
