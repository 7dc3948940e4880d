"""Loaders turn each supported format into paragraph and heading blocks with offsets."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.loaders import LoaderError, UnsupportedType, blocks_from_plain_text, load


def _texts(doc, kind="para"):  # type: ignore[no-untyped-def]
    return [doc.text[b.start:b.end] for b in doc.blocks if b.kind == kind]


def test_plain_text_lines_and_headings(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text(
        "Opening line of the piece.\nSecond paragraph on its own line.\n"
        "A Short Heading\nBody under the heading.\nWhat Comes Next?\nThe last paragraph.\n"
        "Is this line a question or a heading?\nA sentence follows it.\n",
        encoding="utf-8",
    )
    doc = load(path)
    assert _texts(doc) == [
        "Opening line of the piece.", "Second paragraph on its own line.",
        "Body under the heading.", "The last paragraph.",
        "Is this line a question or a heading?", "A sentence follows it.",
    ]
    assert _texts(doc, "heading") == ["A Short Heading", "What Comes Next?"]
    assert doc.title == "notes"


def test_hard_wrapped_paragraphs_are_joined() -> None:
    text = "This paragraph was wrapped\nat a narrow width by an editor\nand ends here.\n\nNext one."
    blocks = blocks_from_plain_text(text)
    assert [text[b.start:b.end] for b in blocks] == [
        "This paragraph was wrapped\nat a narrow width by an editor\nand ends here.", "Next one.",
    ]


def test_markdown_heading_levels(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text("# Guide\n\nIntro text.\n\n## Install\n\nRun the script.\n", encoding="utf-8")
    doc = load(path)
    assert doc.title == "Guide"
    headings = [(doc.text[b.start:b.end], b.level) for b in doc.blocks if b.kind == "heading"]
    assert headings == [("# Guide", 1), ("## Install", 2)]


def test_html_keeps_visible_text_and_headings(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Page Title</title><style>p{color:red}</style></head><body>"
        "<script>var secret = 1;</script><h1>Main</h1><p>Visible <b>bold</b> text.</p>"
        "<div hidden>Hidden text.</div><h2>Sub</h2><ul><li>Item one.</li></ul></body></html>",
        encoding="utf-8",
    )
    doc = load(path)
    assert doc.title == "Page Title"
    assert _texts(doc) == ["Visible bold text.", "Item one."]
    assert _texts(doc, "heading") == ["Main", "Sub"]
    assert "secret" not in doc.text and "color" not in doc.text and "Hidden" not in doc.text


def test_pdf_keeps_page_numbers(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    path = tmp_path / "report.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.drawString(72, 720, "The first page talks about apples.")
    pdf.showPage()
    pdf.drawString(72, 720, "The second page talks about pears.")
    pdf.save()
    doc = load(path)
    pages = {doc.text[b.start:b.end]: b.page for b in doc.blocks}
    assert pages == {
        "The first page talks about apples.": 1, "The second page talks about pears.": 2,
    }


def test_docx_headings_and_paragraphs(tmp_path: Path) -> None:
    import docx

    path = tmp_path / "memo.docx"
    document = docx.Document()
    document.add_heading("Memo", level=1)
    document.add_paragraph("The budget grew in spring.")
    document.save(str(path))
    doc = load(path)
    assert _texts(doc) == ["The budget grew in spring."]
    assert _texts(doc, "heading") == ["Memo"]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.txt", b"", "file is empty"),
        ("binary.txt", b"\x00\x01\x02\x03" * 100, "binary"),
        ("latin1.txt", "caf\xe9 cr\xe8me".encode("latin-1"), "not valid UTF-8"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
        ("broken.docx", b"PK\x03\x04 not a zip", ".docx"),
        ("blank.md", b"   \n\n  \n", "no text"),
    ],
)
def test_bad_files_raise_clear_errors(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(LoaderError, match=message):
        load(path)


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "wide.txt"
    path.write_bytes("Wide text is fine.".encode("utf-16"))
    assert _texts(load(path)) == ["Wide text is fine."]


def test_unknown_type_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a,b\n", encoding="utf-8")
    with pytest.raises(UnsupportedType, match=r"\.csv"):
        load(path)
