"""The matching thresholds of the coverage rule (gis/coverage.py), in a module of their own:
code that only carries them (rounds, the coverage store's settings) then loads no numpy."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CoverageSettings:
    """Thresholds, in metres; both are settings of the deployment."""

    match_distance_m: float = 30.0
    max_accuracy_m: float = 25.0

    def __post_init__(self) -> None:
        for name in ("match_distance_m", "max_accuracy_m"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not v > 0:
                raise ValueError(f"{name} must be a positive number of metres, got {v!r}")
