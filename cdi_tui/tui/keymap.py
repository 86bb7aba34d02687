"""The user's keymap (``[keys]`` in the config): a binding's id -> its keys, checked before the app starts.

Every binding of the app's own actions carries an ``id`` (``sync``, ``filter``, ``export`` ...);
``?`` lists them with their keys. An id the app does not have, or a key Textual cannot name, is
refused with the id or key and what to write instead, before anything opens.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

from textual.binding import Binding, BindingType
from textual.keys import KEY_NAME_REPLACEMENTS, Keys

from cdi_tui.config import ConfigError

MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})


def _bindings_of(classes: Iterable[type]) -> Iterable[Binding]:
    for cls in classes:
        for binding in getattr(cls, "BINDINGS", []):
            if isinstance(binding, Binding):
                yield binding


def screen_classes() -> list[type]:
    """The app and every screen and widget whose bindings carry ids."""
    from cdi_tui.tui.app import CdiApp
    from cdi_tui.tui.screens.credentials import CredentialsScreen
    from cdi_tui.tui.screens.dashboard import DashboardScreen
    from cdi_tui.tui.screens.failed_rows import FailedRowsScreen, RowDetailModal
    from cdi_tui.tui.screens.integration import IntegrationScreen
    from cdi_tui.tui.screens.wizard import NewIntegrationScreen

    return [CdiApp, DashboardScreen, IntegrationScreen, NewIntegrationScreen, FailedRowsScreen, RowDetailModal, CredentialsScreen]


@cache
def known_binding_ids() -> dict[str, str]:
    """Each binding id of the app and what it does (its description)."""
    known: dict[str, str] = {}
    for binding in _bindings_of(screen_classes()):
        if binding.id is not None:
            known.setdefault(binding.id, binding.description)
    return known


@cache
def _named_keys() -> frozenset[str]:
    names = {key.value for key in Keys} | set(KEY_NAME_REPLACEMENTS) | set(KEY_NAME_REPLACEMENTS.values())
    return frozenset(name for name in names if "+" not in name and "-" not in name)


def key_problem(key: str) -> str | None:
    """Why ``key`` (``S``, ``ctrl+y``, ``f5``, ``question_mark``) is not a key Textual can bind, or None."""
    *modifiers, name = key.split("+")
    unknown = [modifier for modifier in modifiers if modifier not in MODIFIERS]
    if unknown:
        return f"'{unknown[0]}' is not a modifier (ctrl, shift, alt, meta, super)"
    if not name:
        return "a key is missing after '+'"
    if len(name) == 1:
        return None if name.isprintable() and not name.isspace() else "not a printable character"
    if name in _named_keys():
        return None
    try:
        unicodedata.lookup(name.replace("_", " "))  # question_mark, full_stop, ...
    except KeyError:
        return f"'{name}' is not a key name (e.g. a, S, f5, enter, escape, pagedown, slash, question_mark)"
    return None


def checked_keymap(keymap: Mapping[str, str], config_file: Path | str) -> dict[str, str]:
    """The keymap, once every id is one the app has and every key one Textual can bind.

    Raises:
        ConfigError: naming the file, ``keys.<id>``, and what is wrong.
    """
    known = known_binding_ids()
    for binding_id, keys in keymap.items():
        where = f"keys.{binding_id}"
        if binding_id not in known:
            raise ConfigError(config_file, where, f"no binding has this id (ids: {', '.join(sorted(known))})")
        for key in keys.split(","):
            problem = key_problem(key.strip())
            if problem is not None:
                raise ConfigError(config_file, where, f"'{key.strip()}': {problem}")
    return dict(keymap)


def rebound(bindings: Iterable[BindingType], keymap: Mapping[str, str]) -> set[str]:
    """The ids among ``bindings`` that the keymap gives other keys (``?`` marks them)."""
    return {binding.id for binding in bindings if isinstance(binding, Binding) and binding.id in keymap and binding.id}
