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
        self.track_all([offset])

    def track_all(self, offsets: list[int]) -> None:
        """Register fetched offsets, in increasing order."""
        last = self._pending[-1] if self._pending else -1
        for offset in offsets:
            if offset <= last:
                raise ValueError(f"offset {offset} tracked after {last}")
            last = offset
        self._pending.extend(offsets)

    def finish(self, offset: int) -> None:
        """Mark `offset` finished (handled, skipped or dead-lettered) and advance the cursor."""
        self._done.add(offset)
        self._advance()

    def finish_through(self, offset: int) -> None:
        """Mark every tracked offset up to `offset` finished (a worker finishes them in order)."""
        pending = self._pending
        while pending and pending[0] <= offset:
            self._position = pending.popleft() + 1
        if self._done:
            self._done = {done for done in self._done if done > offset}
            self._advance()

    def _advance(self) -> None:
        pending, done = self._pending, self._done
        while pending and pending[0] in done:
            head = pending.popleft()
            done.discard(head)
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
