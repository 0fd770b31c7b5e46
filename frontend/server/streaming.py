"""Streaming: the text every live particle agrees on, sent as it grows, so nothing sent is ever taken back.

Particles extend their texts or die, and resampling only copies them, so the longest common
prefix of the live particles' texts only grows and is a prefix of every sample the run can end
with. It is the leading particle's text as far as the whole population has settled it; the
stream sends it as deltas (decoded incrementally, a UTF-8 character never split), and at the
end the rest of the most probable sample, so the deltas add up to `choices[0]`.
"""
from __future__ import annotations

import codecs
import json
import math
import os
from typing import Any, Sequence

DONE = "data: [DONE]\n\n"


class SettledText:
    """The settled text of a generation (see the module docstring); `skip` bytes (token healing's) are left out."""

    def __init__(self, skip: int = 0):
        self.skip = skip
        self._settled = b""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.sent = ""

    def update(self, particles: Sequence[Any]) -> str:
        """The text newly settled by the particles (objects with `.trace.text` bytes and `.log_weight`), maybe ""."""
        texts = [bytes(p.trace.text) for p in particles if p.log_weight > -math.inf]
        if not texts:
            return ""
        common = os.path.commonprefix(texts)[self.skip:]
        if len(common) <= len(self._settled) or not common.startswith(self._settled):
            return ""
        new, self._settled = common[len(self._settled):], common
        delta = self._decoder.decode(new)
        self.sent += delta
        return delta

    def rest(self, final_text: str) -> str:
        """What completes the sent text into `final_text` (which it is a prefix of)."""
        return final_text[len(self.sent):] if final_text.startswith(self.sent) else ""


def sse(data: Any) -> str:
    """One server-sent event carrying `data` as JSON."""
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n"
