"""A bounded, thread-safe least-recently-used map: the service's memos (explanations, the
candidate table) share it. Why not ``functools.lru_cache``: the keys are request data, not a
function's arguments, and the candidate table replaces a user's entry when their state moves on."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class LRU:
    def __init__(self, capacity: int):
        if capacity < 0:
            raise ValueError(f"an LRU's capacity must be >= 0 entries, got {capacity}")
        self.capacity = int(capacity)
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)  # the least recently used

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        """The value kept for ``key``, else ``make()`` kept (made outside the lock: two threads
        may both make it, the later one is kept)."""
        missing = object()
        value = self.get(key, missing)
        if value is missing:
            value = make()
            self.put(key, value)
        return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
