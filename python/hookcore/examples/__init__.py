"""Runnable example integrations; `hookcore up` runs `quickstart` when no --app is given."""
