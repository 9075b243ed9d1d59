"""Per-client limits on the questions running at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ClientSlots:
    """How many questions each client (or any one key) has running; one cannot hold more than ``most`` at once.

    Gradio's queue limits how many events run at once, not who runs them: without this, one client
    sending several slow questions (a trickling model endpoint) would fill every worker and starve
    everyone else. A question over the limit is answered at once with a notice and frees its worker.
    """

    def __init__(self, most: int) -> None:
        self.most = most
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, client: str | None) -> Iterator[bool]:
        """Hold one of ``client``'s slots while the block runs; yields False (holding none) when all are taken."""
        if client is None:
            yield True
            return
        with self._lock:
            if self._running.get(client, 0) >= self.most:
                admitted = False
            else:
                self._running[client] = self._running.get(client, 0) + 1
                admitted = True
        try:
            yield admitted
        finally:
            if admitted:
                with self._lock:
                    self._running[client] -= 1
                    if not self._running[client]:
                        del self._running[client]


__all__ = ["ClientSlots"]
