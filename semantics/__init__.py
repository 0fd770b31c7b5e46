"""Exact reference semantics: enumeration of finite programs, finite measures, validation tools."""
from semantics.enumerating_rng import EnumeratingRng, Outcome, explore
from semantics.exact import Exact, WeightedExecution, enumerate
from semantics.measure import FiniteMeasure, kl_divergence, total_variation

__all__ = ["EnumeratingRng", "Exact", "FiniteMeasure", "Outcome", "WeightedExecution", "enumerate", "explore",
           "kl_divergence", "total_variation"]
