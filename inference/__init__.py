"""Inference algorithms over the generative-function interface: IS, SMC, MCMC, VI, AWRS."""
from inference import vi
from inference.awrs import TokenDraw, awrs, masked_sample
from inference.chains import McmcResult
from inference.importance import importance, sir
from inference.kernel_combinators import cycle, mixture, repeat
from inference.kernels import gibbs, mh, mh_proposal
from inference.mcmc import mcmc
from inference.nuts import nuts
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
