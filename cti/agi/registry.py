"""Handlers registered by script name: ``agi://host:4573/<name>`` runs ``registry.get(name)``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cti.agi.call import AgiCall

Handler = Callable[["AgiCall"], Awaitable[None]]


class Registry:
    """Script name -> ``async def handler(call)``, one small handler per entry point (as wazo-agid)."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def add(self, name: str, handler: Handler) -> Handler:
        key = _key(name)
        if not key:
            raise ValueError("a handler needs a non-empty script name")
        self._handlers[key] = handler
        return handler

    def handler(self, name: str) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`add`: ``@registry.handler("ivr")``."""
        return lambda fn: self.add(name, fn)

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(_key(name))

    def names(self) -> list[str]:
        return sorted(self._handlers)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _key(name) in self._handlers


def _key(name: str) -> str:
    # ``/ivr`` and ``ivr`` are the same entry point.
    return name.strip().strip("/")
