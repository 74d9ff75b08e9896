"""Documentation keeps up with the code: every option and command is shown somewhere."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args, get_origin

import typer
from pydantic import BaseModel

from digest import config
from digest.cli import app

REPO = Path(__file__).resolve().parents[2]


def models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        # a pluggable kind's base: its registered classes are what config.yaml holds
        return [annotation, *getattr(annotation, "registry", {}).values()]
    found: list[type[BaseModel]] = []
    for arg in get_args(annotation) or ():
        found += models_in(arg)
    if get_origin(annotation) is not None and not found:
        return []
    return found


def all_option_names(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[str]:
    names: set[str] = set()
    if model in seen:
        return names
    seen.add(model)
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        names.add(field.alias or name)
        for sub in models_in(field.annotation):
            names |= all_option_names(sub, seen)
    return names


def test_every_config_option_appears_in_the_demo_config() -> None:
    text = (REPO / "config.yaml").read_text(encoding="utf-8")
    keys = set(re.findall(r"([A-Za-z_]+):", text))
    missing = sorted(all_option_names(config.Settings, set()) - keys)
    assert missing == [], f"options not shown in config.yaml: {missing}"


def command_names(group: typer.Typer, prefix: str = "") -> list[str]:
    names = [
        prefix + (c.name or c.callback.__name__.replace("_", "-"))  # type: ignore[union-attr]
        for c in group.registered_commands
    ]
    for sub in group.registered_groups:
        names += command_names(sub.typer_instance, f"{prefix}{sub.name} ")  # type: ignore[arg-type]
    return names


def test_every_command_is_documented() -> None:
    docs = (REPO / "README.md").read_text(encoding="utf-8")
    docs += "".join(p.read_text(encoding="utf-8") for p in (REPO / "docs").glob("*.md"))
    missing = [name for name in command_names(app) if f"digest {name}" not in docs]
    assert missing == [], f"commands not documented in README.md or docs/: {missing}"
