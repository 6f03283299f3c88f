"""The batch the processing steps share: each instance parsed once, and each step's own state.

A step's `prepare` reads what the whole batch will look up (forms, buildings, entities, visits,
rounds) in a few set-based queries and keeps it here; its `run` works on one submission from
that state (and from what earlier submissions of the batch wrote, kept here too); its `finish`
writes what runs collected in a few statements. So a batch costs a bounded number of round
trips whatever its size. Outside a batch (a step called on its own) `current()` is None and
the steps read and write for their one submission as they always did.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar
from xml.etree.ElementTree import Element

from forms.instance import InstanceError, parse_instance
from server.models import Submission

T = TypeVar("T")

_CURRENT: ContextVar[Batch | None] = ContextVar("doorstep_processing_batch", default=None)


class Batch:
    """The submissions of one group of the batch, with their raw XML, processed together."""

    def __init__(self, items: list[tuple[Submission, bytes]]):
        self.items = items
        self.subs = [sub for sub, _xml in items]
        self._xml = {sub.id: xml for sub, xml in items}
        self._roots: dict[int, Element | InstanceError] = {}
        self._state: dict[str, Any] = {}

    def root(self, sub: Submission) -> Element:
        """The submission's parsed instance (parsed on first use; InstanceError if malformed)."""
        found = self._roots.get(sub.id)
        if found is None:
            try:
                found = parse_instance(self._xml[sub.id])
            except InstanceError as err:
                found = err
            self._roots[sub.id] = found
        if isinstance(found, InstanceError):
            raise found
        return found

    def root_or_none(self, sub: Submission) -> Element | None:
        """The parsed instance, or None when malformed (prepare never fails on one submission:
        its run does, and only it is marked)."""
        try:
            return self.root(sub)
        except InstanceError:
            return None

    def has(self, name: str) -> bool:
        """Whether the step `name` prepared its state (its `prepare` ran in this batch)."""
        return name in self._state

    def state(self, name: str, factory: Callable[[], T]) -> T:
        """A step's own state for this batch, made by `factory` on first use."""
        if name not in self._state:
            self._state[name] = factory()
        return self._state[name]


def current() -> Batch | None:
    """The batch being processed in this context, if any."""
    return _CURRENT.get()


def enter(batch: Batch):
    return _CURRENT.set(batch)


def leave(token) -> None:
    _CURRENT.reset(token)
