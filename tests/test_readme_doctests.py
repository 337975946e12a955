"""Finding 6 of issue 14: the README's Python examples run, as written, as doctests."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
_BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def python_blocks() -> list[str]:
    return _BLOCK.findall(README.read_text(encoding="utf-8"))


def test_readme_python_blocks_are_doctests_and_pass():
    blocks = python_blocks()
    assert blocks, "README has no Python examples"
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for i, block in enumerate(blocks):
        assert block.lstrip().startswith(">>>"), f"README Python block {i} is not a doctest"
        test = parser.get_doctest(block, {}, f"README.md python block {i}", str(README), 0)
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.attempted > 0 and results.failed == 0
