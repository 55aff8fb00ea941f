"""Text the CLI prints for the control plane's JSON (``--json`` prints the JSON itself)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from typing import Any

MAX_VALUE_CHARS = 2000
"""A step result or state longer than this is cut in text output (``--json`` has all of it)."""


def dump(value: Any) -> str:
    """The API's JSON as ``--json`` prints it: the same value, indented."""
    return json.dumps(value, indent=2, ensure_ascii=False)


def instance(view: dict[str, Any]) -> str:
    """Everything `instances show` and `deploy` tell a user about an instance."""
    lines = [
        f"Instance {view['id']}: {view['integration']} for customer {view['customer']}",
        f"  name:     {view.get('name', '')}",
    ]
    if view.get("createdAt"):
        lines.append(f"  created:  {view['createdAt']}")
    config = view.get("config") or {}
    lines.append("  config:   " + (", ".join(f"{k}={_short(v)}" for k, v in config.items()) or "(none)"))
    if view.get("invokeUrl"):
        lines.append(f"  invoke URL (shared by its flows): {view['invokeUrl']}")
    lines.append("  webhook URLs:")
    lines += [f"    {flow}: {url}" for flow, url in (view.get("webhookUrls") or {}).items()]
    keys = view.get("webhookApiKeys") or {}
    if keys:
        lines.append("  API keys (header Api-Key):")
        lines += [f"    {flow}: {', '.join(flow_keys)}" for flow, flow_keys in keys.items()]
    lines.append(f"  state:    {_short(view.get('state'))}")
    return "\n".join(lines)


def instance_line(view: dict[str, Any]) -> str:
    flows = len(view.get("webhookUrls") or {})
    return f"{view['id']}  {view['integration']}  customer={view['customer']}  flows={flows}"


def curl_lines(view: dict[str, Any]) -> Iterator[str]:
    """Ready-to-paste requests to each of an instance's URLs (one per URL its flows share)."""
    keys = view.get("webhookApiKeys") or {}
    by_url: dict[str, list[str]] = {}
    for flow, url in (view.get("webhookUrls") or {}).items():
        by_url.setdefault(url, []).append(flow)
    for url, flows in by_url.items():
        yield f"# {', '.join(flows)}"
        key = next((keys[f][0] for f in flows if keys.get(f)), None)
        header = f" --header {shlex.quote('Api-Key: ' + key)}" if key else ""
        yield (
            f"curl {shlex.quote(url)}{header} --header 'Content-Type: application/json' "
            f'--data \'{{"hello":"world"}}\''
        )


def execution_line(view: dict[str, Any]) -> str:
    replayed = "  replayed" if view.get("replayedAs") else ""
    return (
        f"{view['id']}  {view['status']:<9}  {view['customer']}  {view['flow']!r}  "
        f"attempts={view.get('attempts', 0)}{replayed}"
    )


def execution(view: dict[str, Any]) -> str:
    """Everything `executions show` tells: times, error and traceback, replays, steps, logs."""
    lines = [
        f"Execution {view['id']}: {view['status']}",
        f"  flow:      {view['flow']!r} of {view.get('integration', '?')}",
        f"  customer:  {view['customer']}  (instance {view.get('instance', '?')})",
        f"  received:  {view.get('receivedAt')}",
        f"  started:   {view.get('startedAt') or '-'}",
        f"  finished:  {view.get('finishedAt') or '-'}",
        f"  attempts:  {view.get('attempts', 0)}",
    ]
    if view.get("replayOf"):
        lines.append(f"  replay of: {view['replayOf']}")
    if view.get("replayedAs"):
        lines.append(f"  replayed as: {', '.join(view['replayedAs'])}")
    if view.get("error"):
        lines.append(f"  error:     {view['error']}")
    # Whatever detail the server records about the error (exception type, traceback).
    for name in ("errorType", "errorDetail", "traceback"):
        detail = view.get(name)
        if isinstance(detail, dict):
            lines += [f"  {name}.{k}: {_block(v)}" for k, v in detail.items()]
        elif detail:
            lines.append(f"  {name}: {_block(detail)}")
    steps = view.get("steps") or []
    lines.append(f"  steps ({len(steps)}):")
    for step in steps:
        lines.append(
            f"    {step['name']}  {step.get('startedAt')} -> {step.get('finishedAt')}: "
            f"{_short(step.get('result'))}"
        )
    logs = view.get("logs") or []
    lines.append(f"  logs ({len(logs)}):")
    lines += [f"    {line['at']} {line['level']:<7} {line['message']}" for line in logs]
    return "\n".join(lines)


def tail_line(view: dict[str, Any]) -> str:
    when = view.get("finishedAt") or view.get("startedAt") or view.get("receivedAt") or ""
    error = f"  error: {view['error']}" if view.get("error") else ""
    return (
        f"{when}  {view['id']}  {view['status']:<9}  {view['customer']}  {view['flow']!r}  "
        f"attempts={view.get('attempts', 0)}{error}"
    )


def _block(value: Any) -> str:
    """A multi-line value (a traceback) indented under its label."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if "\n" not in text:
        return text
    return "\n    " + text.rstrip("\n").replace("\n", "\n    ")


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    if len(text) <= MAX_VALUE_CHARS:
        return text
    return f"{text[:MAX_VALUE_CHARS]}… ({len(text)} characters; --json shows all)"
