"""During an SMC run the collector skips the objects older than the run; after it, the heap is as before."""
import gc

import inference
import ppl
from ppl import dist


class Coin(ppl.Model):
    def __init__(self):
        super().__init__()
        self.flips = 0

    async def step(self):
        heads = await self.sample(dist.Bernoulli(0.5), ("flip", self.flips))
        self.flips += 1
        self.condition(self.flips > 1 or heads == 1)
        if self.flips == 3:
            self.finish()


def test_run_freezes_older_objects_and_gives_them_back():
    assert gc.get_freeze_count() == 0
    older = object.__new__(Coin)  # tracked by the collector, made before the run
    seen = []
    result = inference.smc(Coin(), particles=8, rng=0, on_step=lambda info: seen.append(gc.get_freeze_count()))
    assert result.log_ml > float("-inf")
    assert seen and all(count > 0 for count in seen)  # frozen for every step
    assert gc.get_freeze_count() == 0  # and given back
    assert gc.is_tracked(older)


def test_a_heap_frozen_before_the_run_stays_frozen():
    gc.freeze()
    try:
        inference.smc(Coin(), particles=4, rng=0)
        assert gc.get_freeze_count() > 0  # the run did not unfreeze what it did not freeze
    finally:
        gc.unfreeze()


def test_an_interrupted_run_gives_the_heap_back():
    def stop(info):
        raise KeyboardInterrupt

    try:
        inference.smc(Coin(), particles=4, rng=0, on_step=stop)
    except inference.Interrupted:
        pass
    assert gc.get_freeze_count() == 0
