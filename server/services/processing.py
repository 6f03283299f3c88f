"""Processing of stored submissions: the derived data (entities, visits, coverage).

A submission is answered 201 once its raw record is durable; processing runs afterwards, off the
request path, and must be idempotent so that any submission can be replayed. Each feature
registers a processor; they run in registration order inside one transaction per submission.
"""

from __future__ import annotations

from collections.abc import Callable

from server.models import Submission

# (name, function(submission, xml_bytes)) pairs.
Processor = Callable[[Submission, bytes], None]
PROCESSORS: list[tuple[str, Processor]] = []


def register_processor(name: str, processor: Processor) -> None:
    if any(existing == name for existing, _ in PROCESSORS):
        return  # module imported again (several apps in one process): keep one
    PROCESSORS.append((name, processor))
