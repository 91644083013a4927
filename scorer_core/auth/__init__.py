"""Who may call: API keys (v2 and embed), rate limits; pure rules, no SQL and no route knowledge."""
