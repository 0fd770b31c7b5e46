"""Optional packages some tests need, and the extra of pyproject.toml that installs each."""
import pytest


def require(module: str, extra: str):
    """The module, or skip the test with a reason naming the extra that installs it."""
    return pytest.importorskip(module, reason=f"needs {module}, from the {extra!r} extra: pip install -e '.[{extra}]'")
