"""Exact McNemar test for paired accuracy comparisons (the same questions answered by two methods)."""
from __future__ import annotations

from scipy.stats import binomtest


def mcnemar(rows: list[dict], a: str, b: str) -> dict:
    """Among questions where exactly one of `a`, `b` (keys of each row's "ok" dict) is right, is each equally likely?"""
    a_only = sum(r["ok"][a] and not r["ok"][b] for r in rows)
    b_only = sum(r["ok"][b] and not r["ok"][a] for r in rows)
    p = binomtest(a_only, a_only + b_only, 0.5).pvalue if a_only + b_only else 1.0
    return {"a_only": a_only, "b_only": b_only, "p": p}
