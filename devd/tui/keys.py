"""The TUI's actions and their keys, with the `[keys]` table of devd.toml applied."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from devd.errors import ConfigError


@dataclass(frozen=True)
class KeyAction:
    """One action of the main screen: its name, default key, footer label and help text."""

    action: str
    key: str
    label: str
    help: str


ACTIONS = (
    KeyAction("rebuild", "b", "Rebuild", "rebuild the selected function"),
    KeyAction("invoke", "i", "Invoke", "invoke the selected function with its saved event, or a sample one"),
    KeyAction("deploy", "d", "Deploy", "plan a Terraform deploy of the selected function, confirm, then apply"),
    KeyAction("deploy_code", "D", "Code", "upload the selected function's local build to AWS"),
    KeyAction("toggle_remote_logs", "l", "Remote logs", "switch the log pane between local and CloudWatch logs"),
    KeyAction("requests", "t", "Requests", "open the request inspector"),
    KeyAction("filter_text", "/", "Filter", "show only log lines that contain a text"),
    KeyAction("help", "?", "Help", "show every key"),
    KeyAction("quit", "q", "Quit", "stop devd and every process it started"),
    KeyAction("restart_workers", "r", "Restart workers", "restart the selected function's workers"),
    KeyAction("restart_process", "s", "Restart process", "restart a Procfile process or sam local"),
    KeyAction("cycle_level", "e", "Level", "show all levels, warnings and errors, or errors only"),
    KeyAction("toggle_filter", "f", "One function", "show only the selected function's log lines"),
    KeyAction("follow_logs", "G", "Follow", "scroll the log pane to the end and follow new lines again"),
    KeyAction("toggle_folding", "z", "Fold traces", "fold or unfold stack traces in the log pane"),
    KeyAction("clear_logs", "c", "Clear", "clear the log pane"),
)
"""Every configurable action, in footer order with the most used first; devd.toml's `[keys]` maps an action to another key."""

_KEY_NAMES = {"/": "slash", "?": "question_mark", " ": "space", ".": "full_stop", ",": "comma", "-": "minus",
              "+": "plus", "!": "exclamation_mark", "#": "number_sign", "*": "asterisk", ":": "colon"}
"""Textual's names of keys that are punctuation characters."""


def textual_key(key: str) -> str:
    """Return Textual's name of a key as a user writes it ("/" is "slash", "ctrl+r" stays)."""
    return _KEY_NAMES.get(key, key)


def resolve_keys(overrides: Mapping[str, str]) -> dict[str, str]:
    """Return the key of every action, with `overrides` (action name to key) applied.

    Raises ConfigError for an unknown action name, an empty key, or two actions on one key.
    """
    keys = {item.action: item.key for item in ACTIONS}
    for action, key in overrides.items():
        if action not in keys:
            raise ConfigError(f"devd.toml [keys]: unknown action {action!r}; actions: {', '.join(keys)}")
        if not isinstance(key, str) or not key:
            raise ConfigError(f"devd.toml [keys]: {action} must be a key such as \"b\" or \"ctrl+b\", got {key!r}")
        keys[action] = key

    seen: dict[str, str] = {}
    for action, key in keys.items():
        if key in seen:
            raise ConfigError(f"devd.toml [keys]: {seen[key]} and {action} both use {key!r}; give one another key")
        seen[key] = action
    return keys
