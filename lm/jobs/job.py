"""`BatchJob`: what a batch job computes (model, seed, default settings, group size), and its fingerprint.

Lines are cut into groups of `group_size` consecutive lines (by index, over the whole input);
a group is the unit of work: it runs on one model replica with its lines' particles sharing
forward passes, from an empty KV cache, so what a line computes depends only on the job and its
group, never on which process ran it or what that process ran before.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Sequence

from lm.jobs.records import BatchLine


@dataclass(frozen=True)
class BatchJob:
    """The job-wide settings; a line's own settings override `particles` ... `temperature`."""

    model: str = "builtin"
    seed: int = 0
    particles: int = 8
    max_tokens: int = 128
    method: str = "smc"
    temperature: float = 1.0
    group_size: int = 8
    threads: int = 1
    device: str = "auto"

    def __post_init__(self) -> None:
        for name in ("particles", "max_tokens", "group_size", "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"batch: {name} must be a positive integer, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"batch: seed must be an integer >= 0, got {self.seed!r}")

    def fingerprint(self) -> str:
        """Identifies what the job computes (not where: threads and device are left out), for resuming."""
        what = {k: v for k, v in asdict(self).items() if k not in ("threads", "device")}
        return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]

    def to_json(self) -> dict:
        return asdict(self)


def groups(lines: Sequence[BatchLine], group_size: int) -> list[list[BatchLine]]:
    """The lines cut into consecutive groups of `group_size` by index (the last may be shorter)."""
    by_group: dict[int, list[BatchLine]] = {}
    for line in lines:
        by_group.setdefault(line.index // group_size, []).append(line)
    return [by_group[g] for g in sorted(by_group)]
