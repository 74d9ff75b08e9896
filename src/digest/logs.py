"""Structured logs: one line per event, with the run id, and no secrets.

Every line reads ``<time> <LEVEL> <logger> [run=<id>] event=<name> key=value ...``.
Redaction happens on the finished line (message, fields and traceback alike), so a secret
cannot slip through an exception message or a library's debug output.
"""

from __future__ import annotations

import base64
import contextvars
import logging
import os
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

from pydantic import BaseModel

from digest.config import SecretRef, Settings

REDACTED = "[redacted]"
# Environment variables whose names say they hold credentials.
SECRET_ENV_NAME = re.compile(
    r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|SIGNING_?KEY|CREDENTIAL|AUTH)", re.I
)
# Short values (e.g. "1") would redact half of every line; real secrets are longer.
MIN_SECRET_LENGTH = 6
_AUTH_HEADER = re.compile(r"((?:proxy-)?authorization['\"]?\s*[:=]\s*['\"]?)([^'\"\r\n,}]+)", re.I)
_BEARER = re.compile(r"\b(Bearer|Basic|OAuth)\s+[A-Za-z0-9._~+/=%-]+", re.I)
# Subscribers' addresses never belong in logs or stored run errors (a server's reply or
# an exception may quote one); the delivery ledger keeps each copy's own error.
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
ADDRESS_REDACTED = "[address]"


def redact_addresses(text: str) -> str:
    """``jane@example.org`` → ``[address]``: for logs and stored run errors."""
    return _ADDRESS.sub(ADDRESS_REDACTED, text)


# Libraries that log request headers or signed URLs at DEBUG.
CHATTY_LOGGERS = (
    "tweepy",
    "requests_oauthlib",
    "oauthlib",
    "httpx",
    "httpcore",
    "urllib3",
    "atproto",
    "mail.log",
)

_run_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("digest_run_id", default=None)


@contextmanager
def run_context(run_id: int | str | None) -> Iterator[None]:
    """Tag every log line written inside the block with ``run=<run_id>``."""
    token = _run_id.set(None if run_id is None else str(run_id))
    try:
        yield
    finally:
        _run_id.reset(token)


def current_run_id() -> str | None:
    return _run_id.get()


def event(logger: logging.Logger, name: str, level: int = logging.INFO, /, **fields: Any) -> None:
    """Log one event as ``event=<name> key=value ...`` (values quoted when needed)."""
    if logger.isEnabledFor(level):
        logger.log(
            level,
            "event=%s%s",
            name,
            "".join(f" {key}={_value(value)}" for key, value in fields.items()),
        )


def _value(value: Any) -> str:
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    if text == "" or any(ch in text for ch in ' "=\n\r\t'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def secret_values(settings: Settings | None, environ: dict[str, str] | None = None) -> set[str]:
    """Values to hide: every SecretRef in the config, and env vars named like secrets."""
    env = dict(os.environ if environ is None else environ)
    names = {ref.var for ref in _secret_refs(settings)} if settings is not None else set()
    names.update(name for name in env if SECRET_ENV_NAME.search(name))
    return {env[name] for name in names if len(env.get(name, "")) >= MIN_SECRET_LENGTH}


def _secret_refs(node: Any) -> Iterator[SecretRef]:
    if isinstance(node, SecretRef):
        yield node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _secret_refs(getattr(node, name))
    elif isinstance(node, dict):
        for value in node.values():
            yield from _secret_refs(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _secret_refs(value)


def encoded_forms(secret: str) -> set[str]:
    """``secret`` as a server or library may echo it: as is, without the dashes of a
    Bluesky app password (``xxxx-xxxx-xxxx-xxxx``), hex, and base64 (standard and
    URL-safe, padded or not) — also where it sits inside a longer base64 string, as in
    an echoed ``AUTH PLAIN`` (``\\0user\\0password``): base64 is aligned on 3 bytes, so
    each of the three offsets gives its own stable middle part."""
    raw = secret.encode()
    forms = {secret, raw.hex(), raw.hex().upper()}
    if "-" in secret and len(secret.replace("-", "")) >= MIN_SECRET_LENGTH:
        forms.add(secret.replace("-", ""))
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        # keep the characters whose 6 bits all come from the secret's own bytes
        start, end = (8 * offset + 5) // 6, (8 * (offset + len(raw))) // 6
        middle = encoded[start:end]
        for form in (middle, middle.replace("+", "-").replace("/", "_")):
            if len(form) >= MIN_SECRET_LENGTH:
                forms.add(form)
    return forms


class Redactor:
    """Replaces known secret values and authorization headers in a string."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms = {form for s in secrets if s for form in encoded_forms(s)}
        ordered = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in ordered)) if ordered else None

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(REDACTED, text)
        text = _AUTH_HEADER.sub(lambda m: m.group(1) + REDACTED, text)
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        return redact_addresses(text)


class OneLineFormatter(logging.Formatter):
    """``<utc time> <LEVEL> <logger> [run=<id>] <message>``, tracebacks folded in, redacted."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        run_id = getattr(record, "run_id", None) or current_run_id()
        parts = [when[:-4] + "Z", record.levelname, record.name]
        if run_id:
            parts.append(f"run={run_id}")
        message = record.getMessage()
        if not message.startswith("event="):
            message = f"event=log msg={_value(message)}"
        parts.append(message)
        if record.exc_info:
            parts.append(f"exc={_value(self.formatException(record.exc_info))}")
        line = " ".join(parts).replace("\r", "\\r").replace("\n", "\\n")
        return self.redactor(line)


_HANDLER_MARK = "_digest_handler"


def configure_logging(
    settings: Settings | None = None,
    level: int | str = logging.INFO,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Install the one-line, redacting handler on the root logger (replacing a previous one)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, _HANDLER_MARK, False):
            root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(OneLineFormatter(Redactor(secret_values(settings))))
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(level)
    quiet_chatty_loggers()
    return handler


def quiet_chatty_loggers() -> None:
    """Keep HTTP/OAuth libraries above DEBUG: they log headers and signed URLs there."""
    for name in CHATTY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < logging.WARNING:
            logger.setLevel(logging.WARNING)
