"""The `digest` command. Each module in this package adds its own commands to ``app``.

Modules are discovered, so a new area of commands is one new file here and nothing else
changes (the same way sources and channels are added).
"""

from __future__ import annotations

import importlib
import pkgutil

from digest.cli.app import app, console

__all__ = ["app", "console", "main"]


def _load_command_modules() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name not in ("app", "__main__"):
            importlib.import_module(f"{__name__}.{module.name}")


def main() -> None:
    _load_command_modules()
    app()


_load_command_modules()
