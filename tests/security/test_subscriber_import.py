"""Hostile or broken subscriber CSV files through ``digest subscribers import``: a file
that is not UTF-8, an unterminated quote that would swallow the rows after it, a cell
of megabytes. Each is reported by line, imports nothing half-way, and never crashes."""

from __future__ import annotations

import random
import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from digest.cli import app
from digest.store import open_store
from digest.subscribers import InvalidAddress, normalize_email, strict_normalize_email


def run(raw_config: dict[str, Any], tmp_path: Path, *args: str) -> Any:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw_config))
    return CliRunner().invoke(app, ["-c", str(config), *args])


def emails(raw_config: dict[str, Any]) -> set[str]:
    from digest.store.tables import SubscriberRow

    store = open_store(raw_config["store"]["url"])
    with store.session() as session:
        return {row.email for row in session.query(SubscriberRow)}


def test_a_windows_1252_file_imports_with_its_names(
    raw_config: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("email,name\nana@example.net,Ana Peña\nbo@example.net,Bö\n".encode("cp1252"))
    result = run(raw_config, tmp_path, "subscribers", "import", str(path), "--list", "weekly")
    assert result.exit_code == 0, result.output
    assert "2 added" in result.output
    listed = run(raw_config, tmp_path, "subscribers", "list")
    assert "Ana Peña" in listed.output


def test_an_unterminated_quote_stops_the_import_naming_the_line(
    raw_config: dict[str, Any], tmp_path: Path
) -> None:
    rows = ["email,name", "ana@example.net,Ana", 'bo@example.net,"Bo oops']
    rows += [f"member{i}@example.net,Member {i}" for i in range(40)]
    path = tmp_path / "broken.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = run(raw_config, tmp_path, "subscribers", "import", str(path), "--list", "weekly")
    assert result.exit_code == 1
    assert "line 3" in result.output and "unterminated quote" in result.output
    assert emails(raw_config) == set()  # nothing half-imported: fix the file, run again
    path.write_text("\n".join(rows).replace('"Bo oops', "Bo") + "\n", encoding="utf-8")
    again = run(raw_config, tmp_path, "subscribers", "import", str(path), "--list", "weekly")
    assert again.exit_code == 0 and "42 added" in again.output


def test_a_huge_cell_is_refused_and_invalid_rows_are_named_by_line(
    raw_config: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "huge.csv"
    path.write_text("email,name\nana@example.net," + "x" * 5_000_000 + "\n", encoding="utf-8")
    result = run(raw_config, tmp_path, "subscribers", "import", str(path), "--list", "weekly")
    assert result.exit_code == 1 and "line 2" in result.output and "KB" in result.output
    path.write_text("email\nana@example.net\nnot-an-address\nbo@example.net\n", encoding="utf-8")
    result = run(raw_config, tmp_path, "subscribers", "import", str(path), "--list", "weekly")
    assert "2 added" in result.output
    assert "1 invalid rows skipped (line 3)" in result.output  # issue 16


ADDRESS_CHARS = string.ascii_letters + string.digits + "._%+-@\"'()<>[],;: \\é"


@given(st.text(alphabet=ADDRESS_CHARS, min_size=1, max_size=40))
def test_the_plain_address_fast_path_agrees_with_the_strict_parse(text: str) -> None:
    try:
        strict: str | None = strict_normalize_email(text.strip(), text)
    except InvalidAddress:
        strict = None
    try:
        fast: str | None = normalize_email(text)
    except InvalidAddress:
        fast = None
    assert fast == strict


@pytest.mark.parametrize("seed", range(3))
def test_the_fast_path_agrees_on_address_shaped_strings(seed: int) -> None:
    rng = random.Random(seed)
    parts = ["a", "B", "0", ".", "-", "_", "+", "%", "..", "xn--", "-x", "x-"]
    for _ in range(5000):
        local = "".join(rng.choice(parts) for _ in range(rng.randint(1, 4)))
        labels = ["".join(rng.choice(parts) for _ in range(rng.randint(1, 3))) for _ in range(3)]
        text = f"{local}@{'.'.join(labels[: rng.randint(1, 3)])}"
        try:
            strict: str | None = strict_normalize_email(text, text)
        except InvalidAddress:
            strict = None
        try:
            fast: str | None = normalize_email(text)
        except InvalidAddress:
            fast = None
        assert fast == strict, text
