"""Commit cursor of one partition: commit only the contiguous prefix of finished messages.

Offsets are tracked in fetch order. When a message finishes, the cursor walks the
prefix of finished messages from the oldest one still tracked; the committable offset is
the last of them plus one (Kafka's convention: the next offset to read). A later message
that finishes first never moves the cursor past an earlier unfinished one.
"""

from __future__ import annotations

from collections import deque


class OffsetTracker:
    """Tracks fetched and finished offsets of one partition."""

    __slots__ = ("_committed", "_done", "_pending", "_position")

    def __init__(self) -> None:
        self._pending: deque[int] = deque()
        self._done: set[int] = set()
        self._position: int | None = None
        self._committed: int | None = None

    def track(self, offset: int) -> None:
        """Register a fetched offset; offsets must arrive in increasing order."""
        if self._pending and offset <= self._pending[-1]:
            raise ValueError(f"offset {offset} tracked after {self._pending[-1]}")
        self._pending.append(offset)

    def finish(self, offset: int) -> None:
        """Mark `offset` finished (handled, skipped or dead-lettered) and advance the cursor."""
        pending = self._pending
        if pending and pending[0] == offset and not self._done:  # in order: the usual case
            pending.popleft()
            self._position = offset + 1
            return
        self._done.add(offset)
        while self._pending and self._pending[0] in self._done:
            head = self._pending.popleft()
            self._done.discard(head)
            self._position = head + 1

    @property
    def in_flight(self) -> int:
        """How many tracked messages are not yet behind the cursor."""
        return len(self._pending)

    def committable(self) -> int | None:
        """The offset to commit if the cursor moved since the last commit, else None."""
        if self._position is None or self._position == self._committed:
            return None
        return self._position

    def committed(self, offset: int) -> None:
        """Record that `offset` was committed."""
        if self._committed is None or offset > self._committed:
            self._committed = offset
