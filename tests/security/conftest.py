"""The web fixtures (an app over a fresh store, a settable clock, a staff password)."""

from __future__ import annotations

from tests.web.conftest import (  # noqa: F401  (fixtures are found by name)
    artifacts_dir,
    client,
    clock,
    make_client,
    web_settings,
)
