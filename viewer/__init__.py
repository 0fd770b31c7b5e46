"""The run viewer: one self-contained HTML page (inline JS and CSS, no network) showing an SMC run's history.

A leaf package (standard library only): it takes the JSON document of a run history
(`inference.history.to_json`) and returns HTML; `Result.save_html`, `ppl view` and the
Jupyter repr all come here. What the page shows: docs/viewer.md.
"""
from viewer.page import notebook_frame, render_html

__all__ = ["notebook_frame", "render_html"]
