"""Geometry datasets on disk: ``datasets/<name>/geometries.jsonl`` plus a README card.

Loading goes through the Hugging Face ``datasets`` library with local files only (offline
mode is forced; nothing is fetched from a hub).
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
from typing import Sequence

from foundation_wf.data.records import GeometryRecord
from foundation_wf.jsonfile import write_text_whole
from foundation_wf.data.rows import check_rows

GEOMETRIES_FILE = "geometries.jsonl"
DEFAULT_DATASET_ROOT = pathlib.Path("datasets")


class DatasetError(ValueError):
    """A dataset that cannot be found or read."""


def resolve_dataset(name_or_path: str | os.PathLike) -> pathlib.Path:
    """The JSON Lines file of a dataset given as a file, a folder or a name under datasets/."""
    path = pathlib.Path(name_or_path)
    candidates = [path, path / GEOMETRIES_FILE, DEFAULT_DATASET_ROOT / path / GEOMETRIES_FILE]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    available = sorted(p.parent.name for p in DEFAULT_DATASET_ROOT.glob(f"*/{GEOMETRIES_FILE}"))
    raise DatasetError(
        f"dataset {str(name_or_path)!r} not found (looked for a .jsonl file, a folder with "
        f"{GEOMETRIES_FILE}, or datasets/<name>/); available: {', '.join(available) or 'none'}"
    )


def _hf_features():
    import datasets

    value = datasets.Value
    return datasets.Features({
        "name": value("string"),
        "compound": value("string"),
        "symbols": datasets.Sequence(value("string")),
        "coordinates_bohr": datasets.Sequence(datasets.Sequence(value("float64"))),
        "charge": value("int64"),
        "spin": value("int64"),
        "scan": value("float64"),
        "reference_energy_Ha": value("float64"),
        "reference_uncertainty_Ha": value("float64"),
        "reference_method": value("string"),
        "reference_source": value("string"),
    })


def load_geometries(name_or_path: str | os.PathLike) -> list[GeometryRecord]:
    """Read a geometry dataset (validated: bad rows raise a ValueError naming the row)."""
    path = resolve_dataset(name_or_path)
    check_rows(path)
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import datasets

    datasets.disable_progress_bars()
    try:
        table = datasets.load_dataset(
            "json", data_files=str(path), split="train", features=_hf_features(),
            keep_in_memory=True,
        )
    except Exception as error:  # the datasets library raises many types for malformed JSON
        raise DatasetError(f"{path}: cannot read as geometry JSON Lines ({error})") from None
    records = []
    for number, row in enumerate(table, start=1):
        try:
            records.append(GeometryRecord.from_row(row))
        except ValueError as error:
            raise DatasetError(f"{path}: row {number}: {error}") from None
    names = [r.name for r in records]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DatasetError(f"{path}: duplicate geometry names {duplicates}")
    return records


def save_geometries(
    records: Sequence[GeometryRecord], folder: str | os.PathLike, card: str | None = None
) -> pathlib.Path:
    """Write ``folder/geometries.jsonl`` (and README.md when ``card`` is given)."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / GEOMETRIES_FILE
    write_text_whole(path, "".join(json.dumps(r.to_row()) + "\n" for r in records))
    if card is not None:
        (folder / "README.md").write_text(card)
    return path


def dataset_fingerprint(records: Sequence[GeometryRecord]) -> str:
    """SHA-256 over the geometries (names, elements, exact coordinates, charge, spin)."""
    digest = hashlib.sha256()
    for record in records:
        m = record.molecule
        digest.update(json.dumps([m.name, m.symbols, m.charge, m.spin]).encode())
        digest.update(m.coords.tobytes())
    return digest.hexdigest()
