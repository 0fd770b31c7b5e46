"""Constrained generation: SMC with AWRS, token masking and reranking as one call."""
from lm.generation.generation import AWRS_BUDGET, METHODS, ConstrainedGeneration, generate, vocabulary_mask, vocabulary_trie

__all__ = ["AWRS_BUDGET", "METHODS", "ConstrainedGeneration", "generate", "vocabulary_mask", "vocabulary_trie"]
