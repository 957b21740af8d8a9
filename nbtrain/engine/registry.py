"""Name -> factory registries.

Every choice a user can make (activation, initializer, schedule, optimizer, dataset, ...) is one small
function registered under a name. The UI lists ``registry.names()``; adding an entry adds it everywhere.

>>> from nbtrain.engine.registry import Registry
>>> colours = Registry("colour")
>>> @colours.register("red")
... def _red(shade: float = 1.0):
...     return (shade, 0.0, 0.0)
>>> colours.names(), colours.make("red", shade=0.5)
(['red'], (0.5, 0.0, 0.0))
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any


class UnknownNameError(KeyError, ValueError):
    """Raised for a name that is not in a registry; the message lists the allowed names."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Entry:
    """One registered choice: its name, its factory, a one-line summary and its parameters' defaults."""

    name: str
    factory: Callable[..., Any]
    summary: str = ""
    aliases: tuple[str, ...] = ()
    tags: frozenset[str] = field(default_factory=frozenset)

    @property
    def params(self) -> dict[str, Any]:
        """Keyword parameters of the factory with their defaults (``inspect.Parameter.empty`` if none)."""
        out = {}
        for p in inspect.signature(self.factory).parameters.values():
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and not p.name.startswith("_"):
                out[p.name] = p.default
        return out


class Registry:
    """An ordered mapping of names to factories with helpful errors.

    ``register(name)`` is a decorator; ``make(name, *args, **kw)`` calls the factory; ``names()`` lists
    the canonical names in registration order; aliases resolve to their canonical name.
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        self._aliases: dict[str, str] = {}

    def register(
        self,
        name: str,
        factory: Callable[..., Any] | None = None,
        *,
        aliases: tuple[str, ...] | list[str] = (),
        summary: str | None = None,
        tags: tuple[str, ...] | list[str] = (),
        replace: bool = False,
    ):
        """Register ``factory`` under ``name`` (usable as a decorator). Returns the factory unchanged."""

        def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
            key = name.lower()
            if not replace and (key in self._entries or key in self._aliases):
                raise ValueError(f"{self.kind} {name!r} is already registered; pass replace=True to override")
            doc = summary if summary is not None else (inspect.getdoc(fn) or "").split("\n")[0]
            self._entries[key] = Entry(key, fn, doc, tuple(a.lower() for a in aliases), frozenset(tags))
            for a in aliases:
                self._aliases[a.lower()] = key
            return fn

        return deco(factory) if factory is not None else deco

    def unregister(self, name: str) -> Entry:
        """Remove ``name`` (or the entry an alias names) with its aliases; returns the removed entry. Unknown
        names raise :class:`UnknownNameError` listing the choices."""
        key = self.resolve(name)
        entry = self._entries.pop(key)
        for alias in [a for a, k in self._aliases.items() if k == key]:
            del self._aliases[alias]
        return entry

    def resolve(self, name: str) -> str:
        """Canonical name for ``name`` or an alias; raises :class:`UnknownNameError` listing the choices."""
        if not isinstance(name, str):
            raise UnknownNameError(f"{self.kind} must be a name (str), got {name!r}; allowed: {self._choices()}")
        key = name.lower()
        key = self._aliases.get(key, key)
        if key not in self._entries:
            raise UnknownNameError(f"unknown {self.kind} {name!r}; allowed: {self._choices()}")
        return key

    def _choices(self) -> str:
        return ", ".join(self._entries)

    def get(self, name: str) -> Entry:
        return self._entries[self.resolve(name)]

    def make(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the factory registered under ``name``; unknown keyword parameters are named in the error."""
        entry = self.get(name)
        sig = inspect.signature(entry.factory)
        if not any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values()):
            bad = sorted(set(kwargs) - set(sig.parameters))
            if bad:
                raise TypeError(
                    f"{self.kind} {entry.name!r} has no parameter(s) {', '.join(bad)}; "
                    f"allowed: {', '.join(entry.params) or '(none)'}"
                )
        return entry.factory(*args, **kwargs)

    def names(self, tag: str | None = None) -> list[str]:
        return [n for n, e in self._entries.items() if tag is None or tag in e.tags]

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        try:
            self.resolve(name)  # type: ignore[arg-type]
        except UnknownNameError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
