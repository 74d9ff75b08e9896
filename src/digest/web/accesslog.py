"""Keep capability tokens out of the access log.

A link's token *is* the authority to unsubscribe, change preferences, confirm or approve;
an access log holding them hands that authority to whoever reads the log (log shippers,
support staff, a leaked backup). uvicorn logs the full path, so ``digest serve`` installs
:class:`RedactTokens` on its access log: ``GET /u/k1a2b...`` is logged as ``GET /u/[token]``.
A reverse proxy in front keeps its own log: redact there too (docs/security.md).
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

TOKEN_PATH = re.compile(r"(/(?:u|p|confirm|staff/approve)/)[^/?#\s\"]+")
REDACTED = r"\1[token]"


def redact(text: str) -> str:
    return TOKEN_PATH.sub(REDACTED, text)


class RedactTokens(logging.Filter):
    """Rewrites the message and its arguments; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging config with the redacting filter on the access handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tokens"] = {"()": RedactTokens}
    config["handlers"]["access"]["filters"] = ["redact_tokens"]
    config["handlers"]["default"]["filters"] = ["redact_tokens"]
    return config
