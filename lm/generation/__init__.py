"""Constrained generation: SMC with AWRS, token masking and reranking; `generate` is the one-call API."""
from lm.generation.api import generate
from lm.generation.generation import AWRS_BUDGET, METHODS, ConstrainedGeneration, vocabulary_mask, vocabulary_trie
from lm.generation.generation_result import GenerationResult

__all__ = ["AWRS_BUDGET", "METHODS", "ConstrainedGeneration", "GenerationResult", "generate", "vocabulary_mask",
           "vocabulary_trie"]
