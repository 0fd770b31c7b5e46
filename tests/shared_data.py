"""Where the team's shared test data lives: $PPL_SHARED_DATA, else ../shared/data beside the checkout, else /work/shared/data."""
import os
from pathlib import Path

_CANDIDATES = [Path(__file__).resolve().parents[2] / "shared" / "data", Path("/work/shared/data")]

SHARED_DATA = Path(os.environ["PPL_SHARED_DATA"]) if os.environ.get("PPL_SHARED_DATA") else next(
    (p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[-1])
SPIDER = SHARED_DATA / "spider"
JSONSCHEMABENCH = SHARED_DATA / "jsonschemabench"
