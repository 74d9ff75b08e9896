"""`digest serve` (the web app) and `digest web hash-password` (the staff password hash)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import typer

from digest.cli.app import (
    app,
    console,
    err_console,
    require_signing_key,
    settings_from,
    user_errors,
)

web_app = typer.Typer(help="The web app: sign-up, unsubscribe, archive and staff desk.")
app.add_typer(web_app, name="web")


@app.command()
@user_errors
def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="Address to listen on (web.host)."),
    port: int | None = typer.Option(None, "--port", help="Port to listen on (web.port)."),
    signup_rate: float = typer.Option(
        5.0, "--signup-rate", help="Sign-ups allowed per minute per client address."
    ),
    signup_burst: int = typer.Option(
        5, "--signup-burst", help="Sign-ups a client address may make at once."
    ),
) -> None:
    """Run the public pages and the staff desk (uvicorn, one process)."""
    import uvicorn

    from digest.store import open_store
    from digest.web import create_app
    from digest.web.accesslog import uvicorn_log_config
    from digest.web.ratelimit import RateLimiter
    from digest.web.users import sign_in_enabled

    settings = settings_from(ctx)
    require_signing_key(settings, "serve")
    store = open_store(settings.store.url)
    if not sign_in_enabled(settings, store):
        err_console.print(
            "note: no staff accounts and no staff password hash configured "
            "(web.staff_password_hash); the staff desk will refuse sign-ins until you run "
            "'digest web add-user EMAIL --role admin'"
        )
    application = create_app(
        settings, store, signup_limiter=RateLimiter(per_minute=signup_rate, burst=signup_burst)
    )
    uvicorn.run(
        application,
        host=host or settings.web.host,
        port=port if port is not None else settings.web.port,
        log_level="info",
        log_config=uvicorn_log_config(),
        # X-Forwarded-* are read by the app, from web.trusted_proxies only (create_app)
        proxy_headers=False,
    )


@web_app.command("hash-password")
@user_errors
def hash_password_command(
    stdin: bool = typer.Option(
        False, "--stdin", help="Read the password from standard input instead of prompting."
    ),
) -> None:
    """Print a scrypt hash of a staff password, for web.staff_password_hash's variable."""
    from digest.web.auth import hash_password

    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Staff password", hide_input=True, confirmation_prompt=True)
    if len(password) < 10:
        err_console.print("error: use a password of at least 10 characters")
        raise typer.Exit(1)
    console.print(hash_password(password), markup=False, highlight=False, soft_wrap=True)


@web_app.command("make-key")
@user_errors
def make_key_command() -> None:
    """Print a new random signing key (for the variable signing_key names).

    To rotate: put the new key in DIGEST_SIGNING_KEY and move the old one to the variable
    signing_keys_old names (e.g. DIGEST_SIGNING_KEYS_OLD), so links already mailed keep
    working; drop it from there once those links may expire (see docs/security.md).
    """
    from digest.signing import key_id, new_key

    key = new_key()
    console.print(key, markup=False, highlight=False, soft_wrap=True)
    err_console.print(
        f"key id {key_id(key)}: set it with  export DIGEST_SIGNING_KEY='<the key above>'",
        markup=False,
        highlight=False,
    )


def _new_password(stdin: bool) -> str:
    """A password from standard input or a hidden prompt, at least 10 characters."""
    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 10:
        err_console.print("error: use a password of at least 10 characters")
        raise typer.Exit(1)
    return password


STDIN_HELP = "Read the password from standard input instead of prompting."
ROLE_HELP = "editor (edit, send tests), publisher (also approve, hold, send) or admin (also users)."


@web_app.command("add-user")
@user_errors
def add_user_command(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The staff member's email address (their sign-in)."),
    role: str = typer.Option("editor", "--role", help=ROLE_HELP),
    stdin: bool = typer.Option(False, "--stdin", help=STDIN_HELP),
) -> None:
    """Add a staff account for the desk."""
    from digest.store import open_store
    from digest.web.auth import hash_password
    from digest.web.users import add_user, check_role

    settings = settings_from(ctx)
    check_role(role)  # before asking for a password
    store = open_store(settings.store.url)
    user = add_user(store, email, hash_password(_new_password(stdin)), role, datetime.now(UTC))
    console.print(f"Added {user.email} as {user.role}.", markup=False)


@web_app.command("set-password")
@user_errors
def set_password_command(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The staff account's email address."),
    stdin: bool = typer.Option(False, "--stdin", help=STDIN_HELP),
    role: str | None = typer.Option(None, "--role", help="Also change the role: " + ROLE_HELP),
) -> None:
    """Change a staff password (this ends every session of that person)."""
    from digest.store import open_store
    from digest.web.auth import hash_password
    from digest.web.users import set_password, set_role

    settings = settings_from(ctx)
    store = open_store(settings.store.url)
    now = datetime.now(UTC)
    ended = set_password(store, email, hash_password(_new_password(stdin)), now)
    if role is not None:
        set_role(store, email, role, now)
    console.print(
        f"Password changed for {email}; {ended} session{'s' if ended != 1 else ''} ended.",
        markup=False,
    )


@web_app.command("remove-user")
@user_errors
def remove_user_command(
    ctx: typer.Context,
    email: str = typer.Argument(..., help="The staff account's email address."),
) -> None:
    """Remove a staff account; its sessions end at once."""
    from digest.store import open_store
    from digest.web.users import remove_user

    settings = settings_from(ctx)
    remove_user(open_store(settings.store.url), email)
    console.print(f"Removed {email}.", markup=False)


@web_app.command("users")
@user_errors
def list_users_command(ctx: typer.Context) -> None:
    """List staff accounts and their roles."""
    from digest.store import open_store
    from digest.web.users import list_users

    settings = settings_from(ctx)
    users = list_users(open_store(settings.store.url))
    for user in users:
        console.print(f"{user.email}  {user.role}", markup=False)
    if not users:
        console.print("No staff accounts (the bootstrap password, if set, signs in as admin).")
