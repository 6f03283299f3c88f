"""Group commit: many request threads, one committer thread, one durable flush per batch.

A durable commit costs an fsync (2–3 ms on our disks) and the disk serialises fsyncs, so one
commit per request caps ingest near a few hundred per second whatever the CPU. Request threads
therefore do their own CPU work (parsing, validation, attachment files), then hand a small
item to the committer of their process and wait. The committer takes everything queued (up to
`max_batch`), writes it with `write(items)` — one transaction, one flush — and wakes each
waiting thread with its own result or exception. While one batch is being flushed the next one
fills up, so batches grow with load and no timer delays a lone request.

One committer per app per process (several web workers each have theirs; the database's
unique constraints arbitrate between them). Its thread starts on demand, runs inside its own
app context (never a request's session) and exits after `idle_s` without work, releasing its
connection before the next one may start.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from flask import Flask

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)


class CommitTimeout(RuntimeError):
    """The committer did not answer in time (the item may still be committed later)."""


class _Ticket:
    __slots__ = ("done", "error", "item", "result")

    def __init__(self, item: Any):
        self.item = item
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class GroupCommitter(Generic[T, R]):
    """Batches items from many threads into calls of `write(items) -> results` in one thread.

    `write` returns one entry per item, in order: a result, or an Exception instance for an
    item that failed on its own (the others still commit). If `write` raises, every item of
    the batch receives that exception.
    """

    def __init__(self, app: Flask, write: Callable[[list[T]], Sequence[R | Exception]], *,
                 max_batch: int = 500, idle_s: float = 2.0, name: str = "group-commit",
                 on_idle: Callable[[], None] | None = None):
        self.app = app
        self.write = write
        self.on_idle = on_idle  # called in the committer thread when it ends (release resources)
        self.max_batch = max_batch
        self.idle_s = idle_s
        self.name = name
        self.pid = os.getpid()
        self.batches = 0  # statistics, read by tests and benchmarks
        self.items = 0
        self._queue: deque[_Ticket] = deque()
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, item: T, timeout: float = 60.0) -> R:
        """Queue one item, wait until its batch is committed, return its result or raise."""
        ticket = _Ticket(item)
        with self._cv:
            self._queue.append(ticket)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
            self._cv.notify()
        if not ticket.done.wait(timeout):
            raise CommitTimeout(f"no answer from the {self.name} committer in {timeout} s")
        if ticket.error is not None:
            raise ticket.error
        return ticket.result

    def _next_batch(self) -> list[_Ticket] | None:
        with self._cv:
            if not self._queue:
                self._cv.wait(self.idle_s)
            if not self._queue:
                self._retire()
                return None
            count = min(len(self._queue), self.max_batch)
            return [self._queue.popleft() for _ in range(count)]

    def _retire(self) -> None:
        """End this committer, with the lock held: a submit() waiting for it starts the next
        one only after `on_idle` has released what this one held (two threads on one SQLite
        connection, one closing it, is a segfault)."""
        self._thread = None
        if self.on_idle is not None:
            self.on_idle()

    def _run(self) -> None:
        with self.app.app_context():
            try:
                while (batch := self._next_batch()) is not None:
                    self._commit(batch)
            except BaseException:
                with self._cv:
                    self._retire()
                raise

    def _commit(self, batch: list[_Ticket]) -> None:
        try:
            results = self.write([t.item for t in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{self.name}: {len(results)} results for {len(batch)} items")
        except Exception as err:  # every waiting request must hear about it, none may hang
            log.warning("%s: batch of %d failed: %s", self.name, len(batch), err)
            for ticket in batch:
                ticket.error = err
                ticket.done.set()
            return
        self.batches += 1
        self.items += len(batch)
        for ticket, result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                ticket.error = result
            else:
                ticket.result = result
            ticket.done.set()


_LOCK = threading.Lock()


def committer_for(app: Flask, key: str, factory: Callable[[], GroupCommitter]) -> GroupCommitter:
    """The app's committer under `key` in this process (a forked worker gets its own)."""
    found = app.extensions.get(key)
    if found is not None and found.pid == os.getpid():
        return found
    with _LOCK:
        found = app.extensions.get(key)
        if found is None or found.pid != os.getpid():
            found = factory()
            app.extensions[key] = found
        return found
