"""How a Result shows itself: `str(result)` for a terminal, `result._repr_html_()` for Jupyter.

Both list the distinct samples, most probable first, with their probabilities, under a line
with the particle count, the ESS and the log marginal-likelihood estimate; a result whose
particles all died shows its message instead. Long lists and long values are cut, saying so.
In Jupyter a recorded run (`record=True`) also shows its run viewer (docs/viewer.md) below the table.
"""
from __future__ import annotations

import html
import math
from typing import Any, Sequence

SAMPLES_SHOWN = 10
VALUE_WIDTH = 100


def summary_line(result: Any, details: Sequence[tuple[str, Any]] = ()) -> str:
    """"8 particles · ESS 3.21 · log-ML -12.3" followed by `details` as "label value"."""
    parts = [f"{len(result.particles)} particles", f"ESS {result.ess:.3g}", f"log-ML {_number(result.log_ml)}"]
    parts += [f"{label} {value}" for label, value in details]
    return " · ".join(parts)


def shown_value(value: Any, width: int = VALUE_WIDTH) -> str:
    """A sample on one line: text with its control characters escaped, anything else by repr; cut at `width`."""
    if isinstance(value, str):
        text = value if value.isprintable() else _printable_unicode(value)
    else:
        text = repr(value)
    return text if len(text) <= width else text[:width - 1] + "…"


def result_text(result: Any, *, details: Sequence[tuple[str, Any]] = (), limit: int = SAMPLES_SHOWN) -> str:
    """The terminal view of a result (see the module docstring)."""
    lines = [summary_line(result, details)]
    if result.all_dead:
        lines.append(f"no samples: {result.message}")
        return "\n".join(lines)
    samples = result.samples
    lines.append("probability  sample")
    for sample in samples[:limit]:
        lines.append(f"{sample.probability:11.4f}  {shown_value(sample.value)}")
    if len(samples) > limit:
        lines.append(f"… and {len(samples) - limit} more distinct samples")
    if result.message:
        lines.append(result.message)
    return "\n".join(lines)


def result_html(result: Any, *, details: Sequence[tuple[str, Any]] = (), limit: int = SAMPLES_SHOWN) -> str:
    """The Jupyter view of a result: a small table, every value escaped."""
    head = f"<p><b>{html.escape(type(result).__name__)}</b>: {html.escape(summary_line(result, details))}</p>"
    if result.all_dead:
        return f"<div>{head}<p>no samples: {html.escape(result.message)}</p>{_viewer(result)}</div>"
    samples = result.samples
    rows = "".join(
        f"<tr><td style='text-align:right'>{sample.probability:.4f}</td>"
        f"<td style='text-align:left'><code>{html.escape(shown_value(sample.value, 4 * VALUE_WIDTH))}</code></td></tr>"
        for sample in samples[:limit])
    more = (f"<p>… and {len(samples) - limit} more distinct samples</p>" if len(samples) > limit else "")
    note = f"<p>{html.escape(result.message)}</p>" if result.message else ""
    return (f"<div>{head}<table><thead><tr><th>probability</th><th style='text-align:left'>sample</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>{more}{note}{_viewer(result)}</div>")


def _viewer(result: Any) -> str:
    """The run viewer in an iframe, for a recorded run; "" otherwise."""
    history = getattr(result, "history", None)
    if history is None:
        return ""
    from inference.history.json_format import to_json
    from viewer import notebook_frame

    return notebook_frame(to_json(history))


def _number(value: float) -> str:
    return "-inf" if value == -math.inf else f"{value:.6g}"


def _printable_unicode(text: str) -> str:
    """`text` with non-printable characters (newlines, tabs, controls) escaped, other characters kept."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
