"""The Typer application, the shared console and the config loader every command uses."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console

from digest.errors import ConfigError, DigestError

if TYPE_CHECKING:
    from digest.config import Settings

app = typer.Typer(
    name="digest",
    help="Build newsletters and social digests from feeds, curated links and social posts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help text: rich's help formatter (tables, Markdown) costs more to import than
    # the rest of `digest --help` together (benchmarks/startup.py).
    rich_markup_mode=None,
)
console = Console(stderr=False, highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


@app.callback()
def root(
    ctx: typer.Context,
    config: Path = typer.Option(
        Path(os.environ.get("DIGEST_CONFIG", "config.yaml")),
        "--config",
        "-c",
        help="Path to config.yaml (or set DIGEST_CONFIG).",
    ),
) -> None:
    """digest: newsletters and social digests for communications teams."""
    ctx.obj = {"config_path": config}


def settings_from(ctx: typer.Context) -> Settings:
    """Load config.yaml named by --config; config mistakes exit 2 with every problem listed."""
    from digest.config import load_config

    path: Path = ctx.obj["config_path"]
    try:
        return load_config(path)
    except ConfigError as exc:
        report_config_error(path, exc)
        raise typer.Exit(2) from None


def report_config_error(path: Path, exc: ConfigError) -> None:
    count = len(exc.problems)
    err_console.print(f"[bold red]{path}: {count} problem{'s' if count != 1 else ''}[/]")
    for problem in exc.problems:
        err_console.print(f"  {problem}", markup=False)


def user_errors(func: F) -> F:
    """Turn DigestError into a one-line message and exit 1, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            for problem in exc.problems:
                err_console.print(f"[red]error:[/] {problem}", markup=True, highlight=False)
            raise typer.Exit(2) from None
        except DigestError as exc:
            err_console.print(f"[red]error:[/] {exc}", highlight=False)
            raise typer.Exit(1) from None
        except Exception as exc:
            reason = database_error(exc)
            if reason is None:
                raise
            err_console.print(f"[red]error:[/] database: {reason}", markup=True, highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def database_error(exc: BaseException) -> str | None:
    """The database's own words, in one line, when ``exc`` is SQLAlchemy's DBAPIError.

    SQLAlchemy is looked up, not imported: a command that never opened the store (and
    ``digest --help``) does not pay for importing it."""
    errors = sys.modules.get("sqlalchemy.exc")
    if errors is None or not isinstance(exc, errors.DBAPIError):
        return None
    orig = exc.orig
    return str(orig).strip().splitlines()[0] if orig else type(exc).__name__


def require_signing_key(settings: Settings, command: str) -> None:
    """Commands that face real people refuse the public demo key (digest.signing)."""
    from digest.signing import require_real_key

    require_real_key(settings.signing_keys(), command, settings.signing_key_variable)
