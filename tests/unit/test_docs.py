"""The documentation: the results-columns page is what the schema generates."""

from __future__ import annotations

from pathlib import Path

from mpcbench.results import COLUMNS, columns_doc, schema

REPO = Path(__file__).resolve().parents[2]


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
