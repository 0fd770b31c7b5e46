"""Language models as primitive distributions: load a causal LM, start contexts, sample tokens in ppl programs."""
from lm import constraints
from lm.distribution.context import LMContext
from lm.errors import ContextWindowError, KVBudgetError, LMError, ModelDirectoryError, TokenizerError, UnsupportedModelError
from lm.serving.kv_pool import CacheStats
from lm.distribution.language_model import LanguageModel
from lm.device.smc_decode import smc_decode
from lm.loading.loading import load
from lm.distribution.next_token import NextToken
from lm.device.static_decoder import StaticDecoder
from lm.distribution.token import Token
from lm.distribution.token_set import TokenSetBernoulli
from lm.distribution.vocabulary import Vocabulary

__all__ = [
    "CacheStats", "ContextWindowError", "KVBudgetError", "LMContext", "LMError", "LanguageModel", "ModelDirectoryError", "NextToken", "StaticDecoder",
    "Token", "TokenSetBernoulli", "TokenizerError", "UnsupportedModelError", "Vocabulary", "constraints", "load", "smc_decode",
]
