"""Hierarchical linear regression fitted by variational inference with a mean-field Normal guide.

The model and the synthetic data are those of examples/hierarchical_regression_nuts.py:
y_i ~ Normal(alpha[g_i] + beta * x_i, sigma), alpha_g = mu + tau * z_g, z_g ~ Normal(0, 1).
The guide is a product of independent Normals on the unconstrained scale: Normal for mu, beta
and z, LogNormal (a Normal on the log scale) for the positive tau and sigma; its parameters are
a pytree of locations and log-scales. Every choice is reparameterizable, so vi.fit jits the
whole optimization step.

The fitted guide is exported to ArviZ like the NUTS posterior: `guide_to_arviz` draws from it
and returns an `arviz.InferenceData` (one chain), so `arviz.summary` and ArviZ's plots compare
the two fits side by side (`pip install -e ".[mcmc]"` for ArviZ).

Run: python examples/hierarchical_regression_vi.py [--save guide.nc]
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

import ppl
from inference import vi
from ppl import dist

try:
    from examples.hierarchical_regression_nuts import GROUPS, TRUTH, hierarchical_regression, synthetic_data
except ModuleNotFoundError:  # run as a script, beside its sibling: python examples/hierarchical_regression_vi.py
    from hierarchical_regression_nuts import GROUPS, TRUTH, hierarchical_regression, synthetic_data

POSITIVE = ("tau", "sigma")  # latents with a LogNormal guide


@ppl.gen
def mean_field(params):
    """Independent Normals (LogNormals for positive latents) at the model's addresses."""
    for name, p in params.items():
        family = dist.LogNormal if name in POSITIVE else dist.Normal
        ppl.sample(family(p["loc"], jnp.exp(p["log_scale"])), name)


def initial_params() -> dict:
    shapes = {"mu": (), "tau": (), "beta": (), "sigma": (), "z": (GROUPS,)}
    return {name: {"loc": jnp.zeros(shape), "log_scale": jnp.full(shape, -1.0)} for name, shape in shapes.items()}


def summary(params: dict) -> dict:
    """Mean and sd of each latent under the fitted guide (LogNormal moments for positive latents)."""
    out = {}
    for name, p in params.items():
        loc, scale = np.asarray(p["loc"]), np.exp(np.asarray(p["log_scale"]))
        if name in POSITIVE:
            mean = np.exp(loc + scale**2 / 2)
            out[name] = (mean, mean * np.sqrt(np.expm1(scale**2)))
        else:
            out[name] = (loc, scale)
    return out


def guide_to_arviz(params: dict, draws: int = 1000, seed: int = 0) -> Any:
    """`draws` draws of the fitted guide as an `arviz.InferenceData` (one chain; the latents as posterior variables)."""
    import arviz

    def draw(key):
        choices = vi.sample_guide(mean_field, params, key).choices
        return {name: choices[name] for name in params}

    posterior = jax.vmap(draw)(jax.random.split(jax.random.PRNGKey(seed), draws))   # the guide traces: vectorized
    return arviz.from_dict(posterior={name: np.asarray(value)[None] for name, value in posterior.items()})


def main(steps: int = 2000, samples: int = 4, seed: int = 0, save: str | None = None) -> dict:
    data = synthetic_data(seed)
    model = hierarchical_regression(data["x"], data["y"], data["group"])
    result = vi.fit(model, mean_field, initial_params(), objective=vi.elbo, optimizer=optax.adam(0.05),
                    steps=steps, samples=samples, rng=seed)
    fitted = summary(result.params)
    print(f"ELBO: first step {result.history[0]:.2f}, mean of the last 100 steps "
          f"{result.history[-100:].mean():.2f} (jitted: {result.jitted})")
    print(f"{'latent':<8}{'guide mean':>12}{'guide sd':>10}{'truth':>9}")
    for name in ("mu", "tau", "beta", "sigma"):
        mean, sd = fitted[name]
        print(f"{name:<8}{float(mean):>12.3f}{float(sd):>10.3f}{TRUTH[name]:>9.3f}")
    mu, tau, z = fitted["mu"][0], fitted["tau"][0], fitted["z"][0]
    print("group intercepts alpha = mu + tau * z at the guide means, vs truth:")
    for g in range(GROUPS):
        print(f"  alpha[{g}] = {float(mu + tau * z[g]):+.3f}   (truth {data['alpha'][g]:+.3f})")
    out = {"result": result, "summary": fitted, "data": data}
    try:
        out["idata"] = guide_to_arviz(result.params, seed=seed)
    except ModuleNotFoundError:
        print("(ArviZ export skipped: pip install -e '.[mcmc]')")
        return out
    if save:
        out["idata"].to_netcdf(save)
        print(f"guide draws written to {save} (arviz.from_netcdf reads them)")
    return out


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None, help="write the guide's draws as arviz.InferenceData here (netCDF)")
    args = parser.parse_args()
    main(args.steps, args.samples, args.seed, args.save)
