"""One self-contained HTML page from a run history document: the assets inlined, the data embedded as JSON.

The page needs no network and opens from file://: the CSS and JavaScript (package data under
viewer/assets/) are written into it, and its Content-Security-Policy allows nothing else: no
fetches, and only the viewer's own script (by its SHA-256), so text a particle wrote can never run
even if it reached the page as markup. The run's JSON goes in a `<script type="application/json">`
block with `<`, `>` and `&` escaped, so no text in it can close the block.
"""
from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from importlib import resources

FRAME_HEIGHT = 760
_PLACEHOLDER = re.compile(r"__(SCRIPT_HASH|TITLE|STYLE|DATA|SCRIPT)__")


def _asset(name: str) -> str:
    return resources.files("viewer").joinpath("assets", name).read_text(encoding="utf-8")


def embedded_json(document: dict) -> str:
    """`document` as JSON safe inside a <script> element (no `</script>`, no `<!--`)."""
    text = json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_html(document: dict, title: str | None = None) -> str:
    """The viewer page of a run history document (inference.history.to_json's form)."""
    script = _asset("viewer.js")
    # The template holds "<script>\n__SCRIPT__\n</script>": the hash covers exactly what lies between the tags.
    digest = base64.b64encode(hashlib.sha256(f"\n{script}\n".encode("utf-8")).digest()).decode("ascii")
    method = document.get("meta", {}).get("method")
    heading = title or (f"SMC run ({method})" if method else "SMC run")
    values = {"SCRIPT_HASH": f"sha256-{digest}", "TITLE": html.escape(heading), "STYLE": _asset("viewer.css"),
              "DATA": embedded_json(document), "SCRIPT": script}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], _asset("page.html"))


def notebook_frame(document: dict, title: str | None = None, height: int = FRAME_HEIGHT) -> str:
    """The page inside a sandboxed iframe (scripts only), for a Jupyter `_repr_html_`."""
    page = render_html(document, title)
    return (f'<iframe class="ppl-run-viewer" sandbox="allow-scripts" style="width:100%;height:{height}px;'
            f'border:1px solid #d0d7de" srcdoc="{html.escape(page, quote=True)}"></iframe>')
