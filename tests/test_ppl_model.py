"""ppl.Model: step traces, cheap cloning, twists, sync and async steps, exact enumeration."""
import math

import numpy as np
import pytest

import ppl
import semantics
from ppl import dist


class Walk(ppl.Model):
    def __init__(self, steps):
        super().__init__()
        self.steps = steps
        self.history = []

    def step(self):
        move = self.sample(dist.Choice([-1, 1]), "move")
        self.history.append(move)
        self.observe(dist.Bernoulli(0.8 if sum(self.history) >= 0 else 0.3), 1, "ok")
        self.twist(0.1 * sum(self.history))
        if len(self.history) == self.steps:
            self.finish()


def test_choices_are_recorded_under_step_index():
    model = Walk(3)
    rng = ppl.rng(0)
    while not model.finished:
        model.step_sync(rng)
    assert model.choices.addresses() == [(0, "move"), (1, "move"), (2, "move")]
    assert [model.choices[(t, "move")] for t in range(3)] == model.history


def test_twist_is_removed_at_finish():
    exact = semantics.enumerate(Walk(3))
    # The final weights hold only observations: the same program without twists gives the same law.
    class Plain(Walk):
        def twist(self, amount):
            pass

    plain = semantics.enumerate(Plain(3))
    assert exact.log_z == pytest.approx(plain.log_z, abs=1e-12)
    assert semantics.total_variation(exact.posterior(), plain.posterior()) < 1e-12


def test_clone_shares_history_and_copies_state():
    model = Walk(5)
    rng = ppl.rng(1)
    model.step_sync(rng)
    model.step_sync(rng)
    twin = model.clone()
    assert twin._records is model._records  # the trace is shared, not copied
    assert twin.history == model.history and twin.history is not model.history
    twin.step_sync(rng)
    assert len(model.history) == 2 and len(twin.history) == 3
    assert model.choices.addresses() == [(0, "move"), (1, "move")]
    assert twin.choices.addresses()[:2] == model.choices.addresses()


class Shared:
    __ppl_shared__ = True


def test_clone_shares_declared_shared_attributes():
    model = Walk(2)
    model.resource = Shared()
    assert model.clone().resource is model.resource


def test_async_steps_run_in_lockstep():
    class Async(ppl.Model):
        def __init__(self):
            super().__init__()
            self.total = 0

        async def step(self):
            x = await self.sample(dist.Bernoulli(0.5), "x")
            self.total += x
            await self.observe(dist.Bernoulli(0.9 if x else 0.1), 1, "y")
            if self.step_index == 1:
                self.finish()

    particles = [Async() for _ in range(3)]
    rng = ppl.rng(0)
    for _ in range(2):
        ppl.run_batched([p.run_step(rng) for p in particles])
    assert all(p.finished for p in particles)
    exact = semantics.enumerate(Async())
    assert exact.log_z == pytest.approx(math.log(0.5 * 0.9 + 0.5 * 0.1) * 2, abs=1e-12)


def test_model_condition_kills_the_particle():
    class Dead(ppl.Model):
        def step(self):
            self.condition(False)

        def __init__(self):
            super().__init__()

    model = Dead()
    model.step_sync(ppl.rng(0))
    assert model.weight == -math.inf and model.finished


def test_model_errors_are_clear():
    class Forgot(ppl.Model):
        def __init__(self):
            self.x = 1

        def step(self):
            pass

    with pytest.raises(ppl.ModelError, match="super\\(\\).__init__"):
        Forgot().step_sync(ppl.rng(0))

    class Twice(ppl.Model):
        def step(self):
            self.sample(dist.Bernoulli(0.5), "x")
            self.sample(dist.Bernoulli(0.5), "x")

    with pytest.raises(ppl.AddressError, match="'x' used twice"):
        Twice().step_sync(ppl.rng(0))

    class BadObservation(ppl.Model):
        def step(self):
            self.observe(dist.Poisson(1.0), -2, "count")

    with pytest.raises(ppl.SupportError, match="'count'"):
        BadObservation().step_sync(ppl.rng(0))


def test_shared_attributes_are_not_copied():
    class WithTable(Walk):
        shared_attributes = ("table",)

    model = WithTable(2)
    model.table = {"big": list(range(10))}
    twin = model.clone()
    assert twin.table is model.table and twin.history is not model.history
