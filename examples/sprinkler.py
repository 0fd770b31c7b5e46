"""The sprinkler network: a probabilistic program, its traces, and its exact posterior.

Run: python examples/sprinkler.py
"""
import ppl
import semantics
from ppl import dist


@ppl.gen
def sprinkler():
    rain = ppl.sample(dist.Bernoulli(0.2), "rain")
    on = ppl.sample(dist.Bernoulli(0.01 if rain else 0.4), "sprinkler")
    p_wet = {(1, 1): 0.99, (1, 0): 0.8, (0, 1): 0.9, (0, 0): 0.0}[(rain, on)]
    ppl.observe(dist.Bernoulli(p_wet), 1, "wet")
    return rain


def main() -> dict:
    trace = sprinkler.simulate(ppl.rng(0))
    print("one execution:", trace.choices.flat(), "log p =", round(trace.score, 4))
    forced, weight = sprinkler.generate(ppl.rng(0), {"rain": 1})
    print("with rain fixed to 1:", forced.choices.flat(), "importance weight =", round(weight, 4))
    exact = semantics.enumerate(sprinkler)
    posterior = exact.marginal("rain")
    print(f"exact log p(wet) = {exact.log_z:.6f}")
    print(f"exact P(rain | wet) = {posterior[1]:.6f}")
    return {"log_z": exact.log_z, "p_rain": posterior[1]}


if __name__ == "__main__":
    main()
