"""File-existence checks on the raw config, for when the schema check fails.

``validate_config`` checks files and folders on the validated settings; when any part of
config.yaml fails the schema there are no settings, and a missing CSV file appeared only
after the schema errors were fixed. This pass reads the same paths straight from the raw
mapping, so check-config lists every problem in one go. Its messages are the ones the
validated check gives (so a problem found by both is listed once).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

FILE_SOURCES = ("feed", "csv")  # `path:` names a file
FOLDER_SOURCES = ("curated",)  # `path:` names a folder


def raw_file_problems(raw: dict[str, Any], base_dir: Path) -> list[str]:
    problems: list[str] = []
    for name, source in _entries(raw, "sources"):
        path = source.get("path")
        if not isinstance(path, str) or not path:
            continue
        target = _resolve(base_dir, path)
        if source.get("type") in FILE_SOURCES and not target.exists():
            problems.append(f"sources.{name}.path: file not found: {path}")
        elif source.get("type") in FOLDER_SOURCES and not target.is_dir():
            problems.append(f"sources.{name}.path: folder not found: {path}")
    for name, fmt in _entries(raw, "formats"):
        data = fmt.get("data")
        if isinstance(data, str) and data and not _resolve(base_dir, data).exists():
            problems.append(f"formats.{name}.data: file not found: {data}")
    return problems


def _entries(raw: dict[str, Any], section: str) -> list[tuple[str, dict[str, Any]]]:
    node = raw.get(section)
    if not isinstance(node, dict):
        return []
    return [(str(k), v) for k, v in node.items() if isinstance(v, dict)]


def _resolve(base_dir: Path, path: str) -> Path:
    candidate = Path(path)
    return candidate if candidate.is_absolute() else base_dir / candidate
