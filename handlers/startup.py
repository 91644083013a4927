"""What every handler module does when it is imported, which in Lambda is the init phase.

Call ``initialize()`` at the top level of a handler module: a malformed setting then fails the init phase
with the variable's name (Lambda reports an init error and never routes a request to that environment)
instead of failing the first request, and the SnapStart hooks are in place before any snapshot is taken.
"""

from __future__ import annotations

from handlers import snapstart
from scorer_core.settings import Settings, get_settings


def initialize() -> Settings:
    """Read the settings now (``SettingsError`` names the variable) and register the SnapStart hooks."""
    settings = get_settings()
    snapstart.register()
    return settings
