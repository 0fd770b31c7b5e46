"""Constraints on generated text: predicates on byte strings with incremental prefix tests, by family.

`lm.constraints` is the public spelling users import; this package is what `inference` (AWRS)
and `lm` (generation) build on.
"""
from constraints.base import Anything, Conjunction, Constraint, ConstraintError
from constraints.grammar.lark_grammar import LarkConstraint, lark
from constraints.json.json_schema import JsonSchemaConstraint, json_schema
from constraints.regular.regex import RegexConstraint, compile_regex, regex
from constraints.sql.sql import sql

__all__ = [
    "Anything", "Conjunction", "Constraint", "ConstraintError", "JsonSchemaConstraint", "LarkConstraint",
    "RegexConstraint", "compile_regex", "json_schema", "lark", "regex", "sql",
]
