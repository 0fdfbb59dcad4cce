"""The documentation: the results-columns page is what the schema generates, and every
relative link of README.md and docs/*.md leads to a file (and heading) that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mpcbench.results import COLUMNS, columns_doc, schema

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]\n]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """``text`` without code blocks and inline code, where brackets are not links."""
    return _CODE.sub("", _FENCE.sub("", text))


def _anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the headings of ``page``."""
    seen: dict[str, int] = {}
    out = set()
    for title in _HEADING.findall(_FENCE.sub("", page.read_text(encoding="utf-8"))):
        slug = re.sub(r"[^\w\- ]", "", title.replace("`", "").strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def test_results_columns_page_is_what_the_schema_generates():
    page = columns_doc.DEFAULT_PATH
    assert page.read_text(encoding="utf-8") == columns_doc.render(), (
        f"{page.relative_to(REPO)} is out of date: run `make docs`")


def test_every_results_column_has_a_description():
    assert list(schema.DESCRIPTIONS) == COLUMNS
    assert all(text.strip() for text in schema.DESCRIPTIONS.values())


def test_generator_writes_the_page(tmp_path):
    out = tmp_path / "columns.md"
    columns_doc.main([str(out)])
    text = out.read_text(encoding="utf-8")
    assert text == columns_doc.render()
    for column in COLUMNS:
        assert f"| `{column}` |" in text


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page):
    broken = []
    for target in _LINK.findall(_prose(page.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target}: no such heading in {dest.name}")
    assert not broken, f"{page.relative_to(REPO)}: " + "; ".join(broken)


def test_the_readme_links_every_docs_page():
    readme = REPO / "README.md"
    linked = {(readme.parent / t.partition("#")[0]).resolve()
              for t in _LINK.findall(_prose(readme.read_text(encoding="utf-8")))}
    missing = [p.name for p in PAGES[1:] if p.resolve() not in linked]
    assert not missing, f"docs pages the README's table of contents lacks: {missing}"
