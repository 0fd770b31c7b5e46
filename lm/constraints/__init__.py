"""Constraints on generated text: predicates on byte strings with incremental prefix tests."""
from lm.constraints.base import Anything, Conjunction, Constraint, ConstraintError
from lm.constraints.json_schema import JsonSchemaConstraint, json_schema
from lm.constraints.lark_grammar import LarkConstraint, lark
from lm.constraints.regex import RegexConstraint, compile_regex, regex
from lm.constraints.sql import sql

__all__ = [
    "Anything", "Conjunction", "Constraint", "ConstraintError", "JsonSchemaConstraint", "LarkConstraint",
    "RegexConstraint", "compile_regex", "json_schema", "lark", "regex", "sql",
]
