"""Inference algorithms over the generative-function interface: IS, SMC, MCMC, VI, AWRS."""
from inference.awrs import TokenDraw, awrs, masked_sample
from inference.chains import McmcResult
from inference.importance import importance, sir
from inference.kernel_combinators import cycle, mixture, repeat
from inference.kernels import gibbs, mh, mh_proposal
from inference.mcmc import mcmc
from inference.smc_engine.particle_gibbs import particle_gibbs
from inference.resampling import resample
from inference.result import Particle, Result, Sample, StepInfo
from inference.smc_engine.engine import Interrupted
from inference.smc_engine.smc import smc
from inference.smc_engine.smc_steer import smc_steer
from inference.token_trie import TokenTrie

__all__ = [
    "Interrupted", "McmcResult", "Particle", "Result", "Sample", "StepInfo", "TokenDraw", "TokenTrie", "awrs", "cycle", "gibbs",
    "importance", "masked_sample", "mcmc", "mh", "mh_proposal", "mixture", "nuts", "particle_gibbs", "repeat",
    "resample", "sir", "smc", "smc_steer", "vi",
]


def __getattr__(name: str):
    """`vi` and `nuts` import JAX: loaded on first use, so SMC and generation jobs stay JAX-free."""
    if name == "vi":
        import importlib

        return importlib.import_module("inference.vi")
    if name == "nuts":
        from inference.nuts import nuts  # importing the submodule binds inference.nuts to it: rebind the function

        globals()["nuts"] = nuts
        return nuts
    raise AttributeError(f"module 'inference' has no attribute {name!r}")
