"""Exact reasoning about JSON number prefixes: which values can a number prefix still become?

A prefix such as `-12.3` (no exponent yet) can become any value whose significant digits
start with `123`, at any scale, because digits and an exponent may follow: the set
`-(∪_e [123·10^e, 124·10^e))`. Intersecting that set with the schema's bounds (and the
integers, for `integer`) tells whether the prefix is dead. All arithmetic is exact
(fractions, decimals), never floats.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

# lexical states of the JSON number grammar
MINUS, ZERO, INT, DOT, FRAC, EXP_MARK, EXP_SIGN, EXP = range(8)
CLOSABLE = frozenset({ZERO, INT, FRAC, EXP})
_WIDE = 48  # exponents to try before concluding that a wide interval is certainly hit


@dataclass(frozen=True)
class Bounds:
    """An interval of the reals; None ends are infinite."""
    lo: Fraction | None = None
    lo_excl: bool = False
    hi: Fraction | None = None
    hi_excl: bool = False

    def is_unbounded(self) -> bool:
        return self.lo is None and self.hi is None

    def contains(self, value: Fraction) -> bool:
        if self.lo is not None and (value < self.lo or (self.lo_excl and value == self.lo)):
            return False
        if self.hi is not None and (value > self.hi or (self.hi_excl and value == self.hi)):
            return False
        return True

    def tighten(self, other: "Bounds") -> "Bounds":
        lo, lo_excl = self.lo, self.lo_excl
        if other.lo is not None and (lo is None or other.lo > lo or (other.lo == lo and other.lo_excl)):
            lo, lo_excl = other.lo, other.lo_excl
        hi, hi_excl = self.hi, self.hi_excl
        if other.hi is not None and (hi is None or other.hi < hi or (other.hi == hi and other.hi_excl)):
            hi, hi_excl = other.hi, other.hi_excl
        return Bounds(lo, lo_excl, hi, hi_excl)


def exact(value: int | float) -> Fraction:
    """The decimal a schema author wrote: floats by their shortest repr, not their binary value."""
    if isinstance(value, int):
        return Fraction(value)
    return Fraction(Decimal(repr(value)))


class Candidates:
    """The numbers of an enum, with their significant digits for fast prefix tests."""

    def __init__(self, values: tuple[Fraction, ...]):
        self.values = values
        self._digits = tuple(_significant_digits(value) for value in values)

    def reachable(self, negative: bool, significant: str, any_positive: bool, lexical_int: bool,
                  integer: bool) -> bool:
        """Whether some candidate's spelling can extend a prefix with these significant digits:
        c = 0.d1d2... x 10^k is reachable iff its first len(significant) digits (zero-padded)
        are `significant` (the exponent supplies the scale)."""
        for value, described in zip(self.values, self._digits):
            if integer and value.denominator != 1:
                continue
            if value == 0:
                if not significant:
                    return True
                continue
            if described is None:
                return True  # not a finite decimal: don't prune
            digits, integer_digits = described
            if (value < 0) != negative:
                continue
            if not significant:
                if any_positive:
                    return True
                continue
            if lexical_int:
                if integer_digits is not None and integer_digits.startswith(significant):
                    return True
                continue
            if len(digits) < len(significant):
                if significant == digits + "0" * (len(significant) - len(digits)):
                    return True
            elif digits.startswith(significant):
                return True
        return False


    def reachable_plain(self, negative: bool, integer_part: str, fraction: str | None,
                        lexical_int: bool, integer: bool) -> bool:
        """The same without exponents: the digits typed so far fix the scale, so a candidate
        is reachable iff its leading digits (before the point, or up to the digits typed
        after it) equal them."""
        for value in self.values:
            if (integer or lexical_int) and value.denominator != 1:
                continue
            if value != 0 and (value < 0) != negative:
                continue
            magnitude = abs(value)
            if not integer_part:  # just "-"
                return True
            if fraction is None:
                whole = magnitude.numerator // magnitude.denominator
                if integer_part == "0":
                    if whole == 0 and (magnitude == 0 or not lexical_int):
                        return True
                elif str(whole).startswith(integer_part):
                    return True
            else:
                scaled = magnitude * 10 ** len(fraction)
                if scaled.numerator // scaled.denominator == int(integer_part + fraction):
                    return True
        return False


def _significant_digits(value: Fraction) -> tuple[str, str | None] | None:
    denominator, twos, fives = value.denominator, 0, 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator != 1:
        return None
    scale = max(twos, fives)
    scaled = abs(value.numerator) * 10 ** scale // value.denominator
    integer_digits = str(abs(value.numerator)) if value.denominator == 1 else None
    return str(scaled).rstrip("0"), integer_digits


def step(state: int | None, byte: int, integer_lexical: bool, exponent: bool = True) -> int | None:
    """The lexical state after `byte` (None for the start), or None if the byte can't follow.
    `integer_lexical`: no fraction and no exponent; `exponent=False`: no exponent."""
    digit = 0x30 <= byte <= 0x39
    if state is None:
        if byte == 0x2D:
            return MINUS
        return (ZERO if byte == 0x30 else INT) if digit else None
    if state == MINUS:
        return (ZERO if byte == 0x30 else INT) if digit else None
    if state in (INT, FRAC, EXP) and digit:
        return state
    if state == DOT or state == EXP_SIGN:
        return (FRAC if state == DOT else EXP) if digit else None
    if state == EXP_MARK:
        if byte in (0x2B, 0x2D):
            return EXP_SIGN
        return EXP if digit else None
    if integer_lexical:
        return None
    if byte in (0x65, 0x45):
        return EXP_MARK if exponent and state in (ZERO, INT, FRAC) else None
    if byte == 0x2E and state in (ZERO, INT):
        return DOT
    return None


def prefix_viable(text: str, state: int, bounds: Bounds, integer: bool, integer_lexical: bool,
                  candidates: Candidates | None, exponent: bool = True) -> bool:
    """Whether some number starting with `text` lies in `bounds` (and in `candidates`, an enum).

    `integer_lexical`: the number may not get a fraction or exponent; `exponent=False`: it
    may not get an exponent. Sound: False only when no extension can qualify. Prefixes that
    already have an exponent are not pruned (the exponent may still grow either way).
    """
    if state >= EXP_MARK:
        return True
    negative = text.startswith("-")
    integer_part, _, fraction = text.lstrip("-").partition(".")
    significant = (integer_part + fraction).lstrip("0")
    if len(significant) > 1000:
        return True  # beyond what bounds written in a schema can tell apart cheaply
    mantissa = int(significant) if significant else 0
    # The reachable magnitudes: 0 (if the digits so far are all zero) or below `zero_cap`,
    # and ∪_{scale_from <= e <= scale_to} [mantissa·10^e, (mantissa+1)·10^e).
    zero_cap: Fraction | None = None
    scale_from: int | None = None
    scale_to: int | None = None
    if integer_lexical:
        scale_from = 0
        zero_cap = None if state == MINUS else Fraction(0)
    elif not exponent:
        if state == MINUS:
            pass
        elif state in (ZERO, INT):
            scale_from = 0
            zero_cap = Fraction(1)
        else:  # DOT, FRAC: the scale is fixed by the digits after the point
            scale_from = scale_to = -len(fraction)
            zero_cap = Fraction(1, 10 ** len(fraction))
    if candidates is not None:
        if exponent and not integer_lexical:
            return candidates.reachable(negative, significant, True, False, integer)
        return candidates.reachable_plain(negative, integer_part, fraction if "." in text else None,
                                          integer_lexical, integer)
    if bounds.is_unbounded() and not integer and zero_cap is None:
        return True
    return _reaches(negative, mantissa, scale_from, scale_to, zero_cap, bounds, integer)


def _reaches(negative: bool, mantissa: int, scale_from: int | None, scale_to: int | None,
             zero_cap: Fraction | None, bounds: Bounds, integer: bool) -> bool:
    """Whether ±(∪_{scale_from <= e <= scale_to} [mantissa·10^e, (mantissa+1)·10^e)) meets the
    bounds; for mantissa 0, whether 0 or a magnitude in (0, zero_cap) does."""
    # absolute-value interval [a, b] that the number must fall in
    if negative:
        a, a_excl = (-bounds.hi, bounds.hi_excl) if bounds.hi is not None else (None, False)
        b, b_excl = (-bounds.lo, bounds.lo_excl) if bounds.lo is not None else (None, False)
    else:
        a, a_excl, b, b_excl = bounds.lo, bounds.lo_excl, bounds.hi, bounds.hi_excl
    zero_ok = (a is None or a < 0 or (a == 0 and not a_excl)) and \
              (b is None or b > 0 or (b == 0 and not b_excl))
    if mantissa == 0:
        if zero_ok:
            return True
        if zero_cap is not None and zero_cap == 0:
            return False
        end, end_excl = b, b_excl
        if zero_cap is not None and (end is None or zero_cap <= end):
            end, end_excl = zero_cap, True
        return _interval_has(Fraction(0), True, end, end_excl, a, a_excl, integer)
    if b is not None and b <= 0:
        return False
    if a is None or a < 0:
        a, a_excl = Fraction(0), True
    m = Fraction(mantissa)
    if b is None:
        if scale_to is None:
            return True  # a large enough scale lands above any lower bound, on an integer
        e_hi = scale_to
    else:
        e_hi = _floor_log10(b / m) + 1
        if scale_to is not None:
            e_hi = min(e_hi, scale_to)
    if a == 0:
        if not integer and scale_from is None:
            return True  # tiny scales land in (0, b)
        e_lo = -len(str(mantissa)) - 1 if integer else scale_from
    else:
        e_lo = _floor_log10(a / (m + 1)) - 1
    if scale_from is not None:
        e_lo = max(e_lo, scale_from)
    if e_hi - e_lo > _WIDE:
        return True
    for e in range(e_lo, e_hi + 1):
        scale = Fraction(10) ** e
        if _segment_hits(m * scale, (m + 1) * scale, a, a_excl, b, b_excl, integer):
            return True
    return False


def _segment_hits(low: Fraction, high: Fraction, a: Fraction, a_excl: bool, b: Fraction | None,
                  b_excl: bool, integer: bool) -> bool:
    """Whether [low, high) meets the interval (a, b) with the given closedness."""
    if a > low or (a == low and a_excl):
        start, start_excl = a, a_excl
    else:
        start, start_excl = low, False
    if b is not None and b < high:
        end, end_excl = b, b_excl
    else:
        end, end_excl = high, True
    return _interval_has(start, start_excl, end, end_excl, None, False, integer)


def _interval_has(start: Fraction, start_excl: bool, end: Fraction | None, end_excl: bool,
                  floor: Fraction | None, floor_excl: bool, integer: bool) -> bool:
    if floor is not None and (floor > start or (floor == start and floor_excl)):
        start, start_excl = floor, floor_excl
    if end is None:
        return True
    if not integer:
        return start < end or (start == end and not start_excl and not end_excl)
    first = start.__ceil__()
    if first == start and start_excl:
        first += 1
    return first < end or (first == end and not end_excl)


def _floor_log10(value: Fraction) -> int:
    """floor(log10(value)) for value > 0, exactly."""
    guess = len(str(value.numerator)) - len(str(value.denominator))
    while Fraction(10) ** guess > value:
        guess -= 1
    while Fraction(10) ** (guess + 1) <= value:
        guess += 1
    return guess


def value_ok(text: str, bounds: Bounds, integer: bool) -> bool:
    """Exact check of a complete number's text against bounds and integrality."""
    if bounds.is_unbounded() and not integer:
        return True
    try:
        value = Decimal(text)
    except InvalidOperation:
        return False
    _, digits, exponent = value.as_tuple()
    if integer and exponent < 0 and any(digits[exponent:]):
        return False
    if bounds.lo is not None:
        order = _compare(value, bounds.lo)
        if order < 0 or (order == 0 and bounds.lo_excl):
            return False
    if bounds.hi is not None:
        order = _compare(value, bounds.hi)
        if order > 0 or (order == 0 and bounds.hi_excl):
            return False
    return True


def value_in(text: str, candidates: Candidates) -> bool:
    """Whether the complete number equals one of the candidates exactly."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return False
    return any(_compare(value, candidate) == 0 for candidate in candidates.values)


def _compare(value: Decimal, bound: Fraction) -> int:
    """-1, 0, 1 as value <, =, > bound; exact, and quick for astronomically large exponents."""
    sign_v = 0 if value.is_zero() else (-1 if value.is_signed() else 1)
    sign_b = (bound > 0) - (bound < 0)
    if sign_v != sign_b or sign_v == 0:
        return (sign_v > sign_b) - (sign_v < sign_b)
    magnitude_v, magnitude_b = value.adjusted(), _floor_log10(abs(bound))
    if magnitude_v != magnitude_b:
        return sign_v if magnitude_v > magnitude_b else -sign_v
    exact_value = Fraction(value)
    return (exact_value > bound) - (exact_value < bound)
