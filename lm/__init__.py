"""Language models as primitive distributions: load a causal LM, start contexts, sample tokens in ppl programs."""
from lm import constraints
from lm.context import LMContext
from lm.errors import ContextWindowError, LMError, ModelDirectoryError, TokenizerError, UnsupportedModelError
from lm.kv_pool import CacheStats
from lm.language_model import LanguageModel
from lm.lockstep_smc import DecodeResult, smc_decode
from lm.loading import load
from lm.next_token import NextToken
from lm.static_decoder import StaticDecoder
from lm.token import Token
from lm.token_set import TokenSetBernoulli
from lm.vocabulary import Vocabulary

__all__ = [
    "CacheStats", "ContextWindowError", "DecodeResult", "LMContext", "LMError", "LanguageModel", "ModelDirectoryError", "NextToken", "StaticDecoder",
    "Token", "TokenSetBernoulli", "TokenizerError", "UnsupportedModelError", "Vocabulary", "constraints", "load", "smc_decode",
]
