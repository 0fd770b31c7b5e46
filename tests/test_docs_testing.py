"""docs/testing.md: every python block runs as a plain script (each in a fresh namespace)."""
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "testing.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_page_has_its_blocks():
    assert len(BLOCKS) == 7


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_block_runs(index):
    exec(compile(BLOCKS[index], f"docs/testing.md block {index}", "exec"), {"__name__": "__main__"})
