"""The embed routes (validate an API key, save stamps and score, get a score): use cases without HTTP types.

Each use case answers an ``EmbedOutcome``; failures follow the embed service's own mapping (``outcome``), whose
default status is 400 and whose body is ``{"detail": ...}``. The transport lives in ``handlers/embed.py``.
"""
