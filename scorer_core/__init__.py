"""The v2 score service: pure Python, no HTTP or Lambda types; the handlers adapt events to it."""
