"""Constraints on generated text: predicates on byte strings with incremental prefix tests."""
from lm.constraints.base import Anything, Conjunction, Constraint, ConstraintError

__all__ = ["Anything", "Conjunction", "Constraint", "ConstraintError"]
