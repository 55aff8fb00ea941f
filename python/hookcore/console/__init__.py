"""The console: a web view of executions at ``/console/`` (see docs/console.md)."""

from hookcore.console.routes import Console

__all__ = ["Console"]
