"""Every ``>>>`` example in our packages runs, and passes.

An example that needs services or models is not a doctest: it is an ``Example::`` literal block.
So no example may be marked ``+SKIP``, and every ``>>>`` line in a module must be an example
that ``doctest`` finds (one in a comment or a nested function would silently never run).
Only modules that hold a ``>>>`` are imported, which keeps heavy backends out of this test.
"""

from __future__ import annotations

import doctest
import importlib
import io
import re
from pathlib import Path

import pytest

from tests.support.environment import REPO

PACKAGES = ("api", "bench", "bootstrap", "cli", "core", "generation", "ingest", "jobs", "retrieval", "state", "workers")
_PROMPT = re.compile(r"^\s*>>>( |$)", re.MULTILINE)


def _modules_with_examples() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if _PROMPT.search(path.read_text(encoding="utf-8")):
                found.append(path.relative_to(REPO).as_posix())
    return found


def _module_name(relpath: str) -> str:
    parts = list(Path(relpath).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = _modules_with_examples()


def test_modules_with_examples_are_found() -> None:
    assert "core/stats.py" in MODULES


@pytest.mark.parametrize("relpath", MODULES)
def test_examples_run_and_pass(relpath: str) -> None:
    module = importlib.import_module(_module_name(relpath))
    tests = doctest.DocTestFinder().find(module)
    examples = [example for test in tests for example in test.examples]
    prompts = len(_PROMPT.findall((REPO / relpath).read_text(encoding="utf-8")))
    assert len(examples) == prompts, (
        f"{relpath}: {prompts} '>>>' lines but doctest finds {len(examples)} examples; "
        "put examples in a module, class or function docstring"
    )
    skipped = [ex.source.strip() for ex in examples if ex.options.get(doctest.SKIP)]
    if skipped:
        pytest.fail(f"{relpath}: examples marked +SKIP never run; write them as an 'Example::' block: {skipped}")

    report = io.StringIO()
    runner = doctest.DocTestRunner()
    for test in tests:
        runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()
