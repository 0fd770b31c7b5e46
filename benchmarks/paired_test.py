"""Exact McNemar test for paired accuracy comparisons (the same questions answered by two methods)."""
from __future__ import annotations

from scipy.stats import binomtest


def mcnemar(rows: list[dict], a: str, b: str) -> dict:
    """Among questions where exactly one of `a`, `b` (keys of each row's "ok" dict) is right, is each equally likely?"""
    a_only = sum(r["ok"][a] and not r["ok"][b] for r in rows)
    b_only = sum(r["ok"][b] and not r["ok"][a] for r in rows)
    p = binomtest(a_only, a_only + b_only, 0.5).pvalue if a_only + b_only else 1.0
    return {"a_only": a_only, "b_only": b_only, "p": p}


def accuracy_lines(rows: list[dict], picks: list[tuple[str, str]]) -> list[str]:
    """A markdown table of how many rows each answer (key of each row's "ok" dict, label) got right."""
    n = len(rows)
    lines = ["| answer | correct | accuracy |", "|---|---|---|"]
    for key, label in picks:
        c = sum(r["ok"][key] for r in rows)
        lines.append(f"| {label} | {c}/{n} | {100 * c / max(n, 1):.0f}% |")
    return lines + [""]
