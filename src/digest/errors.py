"""Errors that users see: each names what went wrong and where."""

from __future__ import annotations


class DigestError(Exception):
    """Base for errors reported to the user without a traceback."""


class ConfigError(DigestError):
    """config.yaml has problems; ``problems`` lists each with its path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class SourceError(DigestError):
    """One source could not be read; the run goes on with the others."""

    def __init__(self, source_id: str, message: str) -> None:
        self.source_id = source_id
        self.message = message
        super().__init__(f"source '{source_id}': {message}")

    def __reduce__(self) -> tuple[type[SourceError], tuple[str, str]]:
        # Pickle with the constructor's arguments (default pickling passes only the
        # formatted text), so a worker process can raise it back to the collect.
        return (type(self), (self.source_id, self.message))


class TemplateError(DigestError):
    """A template failed to render; the message names the template and line."""


class RenderCheckError(DigestError):
    """Rendered email failed a structural check (leftover MJML, size, alt text, footer)."""
