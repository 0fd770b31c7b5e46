"""String formats of JSON Schema: exact checkers and prefix patterns for early pruning.

`jsonschema` checks some formats only with optional packages (uri, hostname) and ties
others to drafts (draft-04 has no `date`); a JSON Schema constraint must reject an
invalid date whatever the draft, so the checkers here apply to every draft and are
combined (logical AND) with `jsonschema`'s own checker where it has one.

Each checker has a prefix pattern: a regular language that contains every valid value,
used with partial matching to reject a string as soon as no extension can be valid.
"""
from __future__ import annotations

import ipaddress
import re
from datetime import date
from typing import Callable

from jsonschema import Draft202012Validator, FormatChecker

# Formats the JSON Schema specification (2020-12) defines; any other `format` value is an
# annotation without assertion, as the specification requires.
SPEC_FORMATS = frozenset({
    "date-time", "date", "time", "duration", "email", "idn-email", "hostname",
    "idn-hostname", "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference",
    "uuid", "uri-template", "json-pointer", "relative-json-pointer", "regex",
})

# Month lengths included, so a prefix such as 2023-11-31 is refused as it is written; February 29 of a
# common year and year 0000 still pass the prefix test, and only the final check refuses them.
_DATE = (r"\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)"
         r"|02-(?:0[1-9]|1\d|2\d))")
_TIME = (r"(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d+)?"
         r"(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)")
_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_PCT = r"%[0-9A-Fa-f]{2}"
_URI_CHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:/?#\[\]@]|{_PCT})"
_IRI_CHAR = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:/?#\[\]@\u00a0-\U0010fffd]|{_PCT})"
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~\-"
_DURATION_TIME = r"T(?:\d+H(?:\d+M(?:\d+S)?)?|\d+M(?:\d+S)?|\d+S)"
_DURATION = (rf"P(?:(?:\d+Y(?:\d+M(?:\d+D)?)?|\d+M(?:\d+D)?|\d+D)(?:{_DURATION_TIME})?"
             rf"|{_DURATION_TIME}|\d+W)")

# Patterns whose full matches include every valid value of the format (and usually
# little else); `None` means no prefix pruning for that format.
PREFIX_PATTERNS: dict[str, str] = {
    "date": _DATE,
    "time": _TIME,
    "date-time": _DATE + "[Tt]" + _TIME,
    "duration": _DURATION,
    "uuid": r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
    "ipv4": r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}",
    "ipv6": r"[0-9A-Fa-f:.]+",
    "hostname": rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?",
    "email": rf"(?:[{_ATEXT}.]+|\"(?:[^\"\\\\]|\\\\.)*\")@[^@\s]+",
    "uri": rf"[A-Za-z][A-Za-z0-9+.\-]*:{_URI_CHAR}*",
    "uri-reference": rf"{_URI_CHAR}*",
    "iri": rf"[A-Za-z][A-Za-z0-9+.\-]*:{_IRI_CHAR}*",
    "iri-reference": rf"{_IRI_CHAR}*",
    "json-pointer": r"(?:/(?:[^~/]|~[01])*)*",
}


def _is_date(value: str) -> bool:
    if not re.fullmatch(_DATE, value, re.ASCII):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _time_fields_ok(value: str) -> bool:
    return re.fullmatch(_TIME, value, re.ASCII) is not None


def _is_time(value: str) -> bool:
    return _time_fields_ok(value)


def _is_date_time(value: str) -> bool:
    if len(value) < 11 or value[10] not in "Tt":
        return False
    return _is_date(value[:10]) and _time_fields_ok(value[11:])


def _is_duration(value: str) -> bool:
    return re.fullmatch(_DURATION, value, re.ASCII) is not None


def _is_uuid(value: str) -> bool:
    return re.fullmatch(PREFIX_PATTERNS["uuid"], value, re.ASCII) is not None


def _is_ipv4(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def _is_ipv6(value: str) -> bool:
    try:
        address = ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return not getattr(address, "scope_id", None)


def _is_hostname(value: str) -> bool:
    """RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens."""
    name = value[:-1] if value.endswith(".") else value
    if not name or len(name) > 253:
        return False
    return re.fullmatch(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*", name, re.ASCII) is not None


def _is_email(value: str, *, international: bool = False) -> bool:
    """RFC 5321 mailbox: dot-atom or quoted local part, host name or address literal."""
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or len(local) > 64:
        return False
    atext = _ATEXT + ("\u0080-\U0010ffff" if international else "")
    dot_atom = rf"[{atext}]+(?:\.[{atext}]+)*"
    if not (re.fullmatch(dot_atom, local) or re.fullmatch(r'"(?:[^"\\\r\n]|\\.)*"', local)):
        return False
    if domain.startswith("[") and domain.endswith("]"):
        literal = domain[1:-1]
        if literal.lower().startswith("ipv6:"):
            return _is_ipv6(literal[5:])
        return _is_ipv4(literal)
    if international:
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return False
    return _is_hostname(domain)


def _split_uri(value: str) -> re.Match | None:
    # RFC 3986 appendix B: scheme, authority, path, query, fragment.
    return re.fullmatch(r"(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?",
                        value, re.DOTALL)


def _uri_like(value: str, *, absolute: bool, international: bool) -> bool:
    """RFC 3986 URI / URI-reference (RFC 3987 IRI with `international`)."""
    parts = _split_uri(value)
    if parts is None:
        return False
    scheme, authority, path, query, fragment = parts.groups()
    if absolute and scheme is None:
        return False
    if scheme is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.\-]*", scheme):
        return False
    extra = "\u00a0-\U0010fffd" if international else ""
    pchar = rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:@{extra}]|{_PCT})"
    if authority is not None:
        userinfo, at, hostport = authority.rpartition("@")
        if at and not re.fullmatch(rf"(?:[{_UNRESERVED}{_SUB_DELIMS}:{extra}]|{_PCT})*", userinfo):
            return False
        if hostport.startswith("["):
            host, close, port = hostport[1:].partition("]")
            if not close or not (_is_ipv6(host) or re.fullmatch(r"v[0-9A-Fa-f]+\.[\w\-.~!$&'()*+,;=:]+", host)):
                return False
            if port and not re.fullmatch(r":\d*", port):
                return False
        else:
            host, _, port = hostport.partition(":")
            if not re.fullmatch(rf"(?:[{_UNRESERVED}{_SUB_DELIMS}{extra}]|{_PCT})*", host):
                return False
            if not re.fullmatch(r"\d*", port):
                return False
    elif scheme is None and ":" in path.split("/", 1)[0]:
        return False  # a relative reference's first segment has no colon
    if authority is not None and path and not path.startswith("/"):
        return False
    if not re.fullmatch(rf"(?:{pchar}|/)*", path):
        return False
    tail = rf"(?:{pchar}|[/?]|[\ue000-\uf8ff]*)*" if international else rf"(?:{pchar}|[/?])*"
    for part in (query, fragment):
        if part is not None and not re.fullmatch(tail, part):
            return False
    return True


def _is_uri_template(value: str) -> bool:
    literal = r"[^\x00-\x20\"'%<>\\^`{|}]|%[0-9A-Fa-f]{2}"
    varspec = r"(?:[A-Za-z0-9_]|%[0-9A-Fa-f]{2})(?:\.?(?:[A-Za-z0-9_]|%[0-9A-Fa-f]{2}))*(?::[1-9]\d{0,3}|\*)?"
    expression = rf"\{{[+#./;?&=,!@|]?{varspec}(?:,{varspec})*\}}"
    return re.fullmatch(rf"(?:{literal}|{expression})*", value) is not None


OWN_CHECKERS: dict[str, Callable[[str], bool]] = {
    "date": _is_date,
    "time": _is_time,
    "date-time": _is_date_time,
    "duration": _is_duration,
    "uuid": _is_uuid,
    "ipv4": _is_ipv4,
    "ipv6": _is_ipv6,
    "hostname": _is_hostname,
    "email": _is_email,
    "idn-email": lambda value: _is_email(value, international=True),
    "uri": lambda value: _uri_like(value, absolute=True, international=False),
    "uri-reference": lambda value: _uri_like(value, absolute=False, international=False),
    "iri": lambda value: _uri_like(value, absolute=True, international=True),
    "iri-reference": lambda value: _uri_like(value, absolute=False, international=True),
    "uri-template": _is_uri_template,
}


def format_checker() -> FormatChecker:
    """A format checker with `jsonschema`'s checks (2020-12 names, asserted whatever the
    schema's draft) AND the checks above."""
    checker = FormatChecker(formats=())
    checker.checkers.update(Draft202012Validator.FORMAT_CHECKER.checkers)
    for name, own in OWN_CHECKERS.items():
        checker.checks(name)(_combined(own, checker.checkers.get(name)))
    return checker


def _combined(own: Callable[[str], bool], theirs: tuple | None) -> Callable[[object], bool]:
    def check(instance: object) -> bool:
        if not isinstance(instance, str):
            return True
        if not own(instance):
            return False
        if theirs is None:
            return True
        func, raises = theirs
        try:
            return bool(func(instance))
        except raises:
            return False
    return check


def is_checked(name: str, checker: FormatChecker) -> bool:
    """Whether `name` is asserted by `checker` (other names are annotations)."""
    return name in checker.checkers
