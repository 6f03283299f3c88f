"""Processing: the ordered steps (pipeline.STEPS) that turn a stored submission into entities,
a visit and coverage; run by the embedded worker (worker) or replayed from the CLI."""

from server.services.processing.pipeline import STEPS, process_one, process_pending, reprocess

__all__ = ["STEPS", "process_one", "process_pending", "reprocess"]
