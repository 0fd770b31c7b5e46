"""Language models as primitive distributions: load a causal LM, start contexts, sample tokens, generate under constraints."""
from lm import constraints
from lm.device.smc_decode import smc_decode
from lm.device.static_decoder import StaticDecoder
from lm.distribution.chat import ChatTemplateError
from lm.distribution.context import LMContext
from lm.distribution.language_model import LanguageModel
from lm.distribution.next_token import NextToken
from lm.distribution.token import Token
from lm.distribution.token_set import TokenSetBernoulli
from lm.distribution.vocabulary import Vocabulary
from lm.errors import (ContextWindowError, GGUFError, KVBudgetError, LMError, ModelDirectoryError, TokenizerError,
                       UnsupportedModelError)
from lm.generation.api import generate
from lm.generation.generation_result import GenerationResult
from lm.jobs.batch import batch
from lm.loading.loading import load
from lm.serving.kv_pool import CacheStats

__all__ = [
    "CacheStats", "ChatTemplateError", "ContextWindowError", "GGUFError", "GenerationResult", "KVBudgetError", "LMContext",
    "LMError", "LanguageModel", "ModelDirectoryError", "NextToken", "StaticDecoder", "Token", "TokenSetBernoulli",
    "TokenizerError", "UnsupportedModelError", "Vocabulary", "batch", "constraints", "generate", "load", "smc_decode",
]
