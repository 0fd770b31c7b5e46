"""`ModelProgram`: a `ppl.Model` as a generative function, by replaying its steps under the GFI handlers.

The body clones the model as it stood when the program was made, and runs its steps one by one
(LM requests served synchronously; the prefix trie memoizes them, so replaying an LM program
recomputes nothing it has seen). Inside the replay, the model's statements are the language's:
`self.sample` is `ppl.sample` at (step_index, address), `observe`/`factor`/`condition` add to the
score, and a twist is a factor that the next step (or finishing) takes back, exactly as it
enters and leaves a particle's weight. So the score of a k-step prefix is the particle's twisted
log weight under the prior proposal, and simulate/generate/assess/update/regenerate (hence MH
and Gibbs kernels) see the same target SMC does. `sample_with` (AWRS) has no density and
cannot be replayed.
"""
from __future__ import annotations

from typing import Any

from ppl.batching import run_sync
from ppl.errors import ModelError
from ppl.generative import DynamicGenFn

_HANDLER_RNG = object()  # stands for "the handler draws": a replayed model never draws by itself


class ModelProgram(DynamicGenFn):
    """The first `steps` steps (all, when None) of a Model, as a generative function of no arguments."""

    def __init__(self, model: Any, steps: int | None = None, max_steps: int = 10_000):
        self.model = model.clone()
        self.steps = steps
        self.max_steps = max_steps
        label = "all steps" if steps is None else f"{steps} steps"
        super().__init__(self._body, name=f"{type(model).__name__}.program({label})")

    def _body(self) -> Any:
        replay = self.model.clone()
        replay._replaying = True
        taken = 0
        while not replay.finished and (self.steps is None or taken < self.steps):
            if taken >= self.max_steps:
                raise ModelError(f"{self.name}: the model did not finish within max_steps={self.max_steps}")
            run_sync(replay.run_step(_HANDLER_RNG))
            taken += 1
        replay._replaying = False
        return replay
