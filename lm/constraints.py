"""The public spelling of the constraint constructors: `lm.constraints.json_schema(...)`, `regex`, `lark`, `sql`, `&`."""
from constraints import (Anything, Conjunction, Constraint, ConstraintError, JsonSchemaConstraint, LarkConstraint,
                         RegexConstraint, compile_regex, json_schema, lark, regex, sql)

__all__ = [
    "Anything", "Conjunction", "Constraint", "ConstraintError", "JsonSchemaConstraint", "LarkConstraint",
    "RegexConstraint", "compile_regex", "json_schema", "lark", "regex", "sql",
]
