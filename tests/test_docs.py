"""The documentation: the reference pages are what the code generates now, and README.md
stays short and free of commit hashes."""

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# A commit hash: a word of 7 to 40 hex digits after "commit(s)" or "at".
COMMIT_HASH = re.compile(r"\b(?:commits?|at)\s+[0-9a-f]{7,40}\b", re.IGNORECASE)
# The pages that tell what mpil2l does (the generated ones come from docstrings).
WRITTEN_PAGES = (
    "README.md",
    "docs/architecture.md",
    "docs/async.md",
    "docs/benchmarks.md",
    "docs/l2l.md",
    "docs/resume.md",
    "docs/runtime.md",
    "docs/smac.md",
)


def load_make_docs():
    spec = importlib.util.spec_from_file_location("make_docs", ROOT / "scripts" / "make_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_pages_are_current():
    make_docs = load_make_docs()
    stale = make_docs.stale_pages(ROOT / "docs" / "reference")
    assert not stale, f"docs/reference/{', '.join(stale)} differ from the code: run make docs"


def test_readme_has_at_most_250_lines():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines (at most 250)"


def test_no_commit_hash_in_written_pages():
    for page in WRITTEN_PAGES:
        text = (ROOT / page).read_text(encoding="utf-8")
        found = [match.group(0) for match in COMMIT_HASH.finditer(text)]
        assert not found, f"{page} names commits: {found}"
