"""Command palette (ctrl+p): one entry per action of the main screen, from its bindings.

Entries disappear with their keys: in --read-only the state-changing ones are not offered.
"""

from __future__ import annotations

from functools import partial
from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider


@runtime_checkable
class PaletteSource(Protocol):
    def palette_entries(self) -> list[tuple[str, str, str]]:
        """(title, help, action) for every action that may run now."""
        ...

    async def run_action(self, action: str) -> bool: ...


class OpsCommands(Provider):
    def _entries(self) -> list[tuple[str, str, str]]:
        source = self.screen
        if not isinstance(source, PaletteSource):
            return []
        return source.palette_entries()

    async def discover(self) -> Hits:
        for title, help_text, action in self._entries():
            yield DiscoveryHit(title, partial(self.screen.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in self._entries():
            score = max(matcher.match(title), matcher.match(help_text) * 0.5)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(title),
                    partial(self.screen.run_action, action),
                    text=title,
                    help=help_text,
                )
