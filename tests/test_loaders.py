"""Loaders turn each supported format into blocks (headings, paragraphs, code, tables, lists,
rows) with offsets into the extracted text and the place a reader finds them at."""

from __future__ import annotations

import random
import warnings
import zipfile
from pathlib import Path

import pytest

from bot.chunking import chunk_document
from bot.loaders import LoadedDocument, LoaderError, UnsupportedType, blocks_from_plain_text, load


def _texts(doc: LoadedDocument, kind: str = "para") -> list[str]:
    return [doc.text[b.start:b.end] for b in doc.blocks if b.kind == kind]


def _locations(doc: LoadedDocument, size: int = 800) -> dict[str, str]:
    return {c.text: c.location for c in chunk_document(doc, "x", size, 150)}


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
    # Text files are cited by line, with the heading they sit under.
    assert _locations(doc)["Body under the heading."] == "line 4, A Short Heading"


def test_hard_wrapped_paragraphs_are_joined() -> None:
    text = "This paragraph was wrapped\nat a narrow width by an editor\nand ends here.\n\nNext one."
    blocks = blocks_from_plain_text(text)
    assert [text[b.start:b.end] for b in blocks] == [
        "This paragraph was wrapped\nat a narrow width by an editor\nand ends here.", "Next one.",
    ]


def _headings(text: str) -> list[tuple[int, str]]:
    return [(b.level, " ".join(text[b.start:b.end].split()))
            for b in blocks_from_plain_text(text) if b.kind == "heading"]


def test_faq_questions_head_their_answers() -> None:
    marked = (
        "Tool FAQ\n========\n\nQ:  What does the name mean?\n\nA:  Nothing at all. It is\n"
        "    two letters.\n\n\nQ:  Is the format documented? Where is the\n"
        "    specification kept?\n\nA:  In the source tree.\n"
    )
    assert _headings(marked) == [
        (1, "Tool FAQ"), (2, "Q: What does the name mean?"),
        (2, "Q: Is the format documented? Where is the specification kept?"),
    ]
    numbered = (
        " 1. Is it year-2000 safe?\n\n    Yes. It handles no dates.\n\n"
        " 2. compress() returns an error.\n\n    Make sure that the buffer is big enough.\n"
    )
    assert _headings(numbered) == [
        (1, "1. Is it year-2000 safe?"), (1, "2. compress() returns an error."),
    ]
    indented = "Why does ps warn about a dash?\n\tBecause the standard says so.\n"
    assert _headings(indented) == [(1, "Why does ps warn about a dash?")]
    # The answer stays the passage's text, under its question.
    doc = LoadedDocument(text=numbered, title="", blocks=blocks_from_plain_text(numbered))
    chunks = chunk_document(doc, "faq.txt", 800, 0)
    assert [(c.heading, c.text) for c in chunks] == [
        ("1. Is it year-2000 safe?", "Yes. It handles no dates."),
        ("2. compress() returns an error.", "Make sure that the buffer is big enough."),
    ]


def test_underline_styles_set_levels_and_rules_are_no_text() -> None:
    text = (
        "Questions\n---------\n\nWhy use it?\n===========\n\nIt is fast.\n\n"
        "  * Speed\n\n    It caches pages.\n\n"
        "--------------------------------\n1. Background\n--------------------------------\n\n"
        "1.1. Where does the name come from? \nFrom a myth.\n\n~~~~~~~~~~\n"
    )
    assert _headings(text) == [
        # An over- and underlined title is a style of its own, met third.
        (1, "Questions"), (2, "Why use it?"), (3, "* Speed"), (3, "1. Background"),
        (4, "1.1. Where does the name come from?"),
    ]
    paragraphs = [text[b.start:b.end] for b in blocks_from_plain_text(text) if b.kind == "para"]
    assert paragraphs == ["It is fast.", "It caches pages.", "From a myth."]


def test_wrapped_prose_lines_are_not_headings() -> None:
    text = (
        "The project was not maintained.\nWhatever the reasons, it stalled.  Starting in\n"
        "1997, a new team took over.\n\nWorkaround for old versions: use the\n"
        "--no-cache option. It is slower.\n\n    See\n        * the manual\n"
        "        * the web site\n\nDon't worry: everyone gets it wrong at first.\n"
        "--------------------------------\n"
    )
    assert _headings(text) == []


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("latin-1", "Café crème, façade naïve. Grüße aus Köln."),
        ("cp1252", "The fee is 5 € per night — “quoted” in the café’s menu."),
    ],
)
def test_legacy_encodings_are_detected(tmp_path: Path, encoding: str, text: str) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes(f"{text}\nA second line follows.\n".encode(encoding))
    assert _texts(load(path)) == [text, "A second line follows."]


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "wide.txt"
    path.write_bytes("Wide text is fine.".encode("utf-16"))
    assert _texts(load(path)) == ["Wide text is fine."]


def test_markdown_structure_with_exact_offsets(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text(
        "# Guide\n\nIntro text with `inline` code.\n\n## Install\n\n<!-- build note -->\n\n"
        "Run the script:\n\n```sh\n./configure --prefix=/opt\nmake install\n```\n\n"
        "- first step\n- second step\n  continued\n\n"
        "| Option | Meaning |\n|---|---|\n| -k | keep files |\n\n"
        "Setext Title\n------------\n\nLast words.\n",
        encoding="utf-8",
    )
    doc = load(path)
    assert doc.title == "Guide"
    kinds = [(b.kind, doc.text[b.start:b.end]) for b in doc.blocks]
    assert kinds == [
        ("heading", "# Guide"),
        ("para", "Intro text with `inline` code."),
        ("heading", "## Install"),
        ("para", "Run the script:"),
        ("code", "./configure --prefix=/opt\nmake install"),
        ("list", "- first step\n- second step\n  continued"),
        ("table", "Option: -k; Meaning: keep files"),
        ("heading", "Setext Title"),
        ("para", "Last words."),
    ]
    assert [b.level for b in doc.blocks if b.kind == "heading"] == [1, 2, 2]
    assert "build note" not in " ".join(text for _, text in kinds)
    chunks = chunk_document(doc, "guide.md", 800, 150)
    install = next(c for c in chunks if "make install" in c.text)
    # The short paragraph, its code and the list under one heading make one passage.
    assert install.text.startswith("Run the script:") and "second step" in install.text
    assert install.location == "lines 9-22, Guide > Install"


def test_markdown_pipe_tables_are_read_as_rows_on_their_own_lines(tmp_path: Path) -> None:
    path = tmp_path / "initiatives.md"
    rows = "".join(f"| Team {n:02} | [Person {n}][p{n}] | <https://example.org/{n}> |\n"
                   for n in range(1, 31))
    path.write_text(
        "# Initiatives\n\n| Initiative | Champion | Links |\n| --- | :-: | --- |\n"
        f"{rows}| Pipes | `a \\| b` **now** | |\n\nText after the table.\n\n"
        "| Only | Header |\n|---|---|\n\n"
        + "".join(f"[p{n}]: https://example.org/people/{n}\n" for n in range(1, 31)),
        encoding="utf-8",
    )
    doc = load(path)
    first, lone = _texts(doc, "table")
    # What a reader of the rendered page sees: no link targets, code or emphasis marks,
    # and each row names its columns.
    assert first.split("\n")[0] == (
        "Initiative: Team 01; Champion: Person 1; Links: https://example.org/1")
    assert first.split("\n")[-1] == "Initiative: Pipes; Champion: a | b now"
    assert lone == "Only | Header"
    lines = path.read_text("utf-8").split("\n")
    # Every row and every line after the table keeps the line number of the file.
    for chunk in chunk_document(doc, "x", 300, 0):
        number = int(chunk.location.split()[1].split("-")[0].rstrip(","))
        head = chunk.text.split("\n")[0]
        assert head.split(";")[0].split(": ")[-1] in lines[number - 1], chunk.location
    split = [c for c in chunk_document(doc, "x", 300, 0) if "Team 30" in c.text]
    assert split and split[0].text.startswith("Initiative: Team") and "Champion:" in split[0].text
    assert _locations(doc, size=30)["Text after the table."] == "line 37, Initiatives"
    assert lines[36] == "Text after the table."


def test_markdown_html_blocks_read_as_the_rendered_page_shows_them(tmp_path: Path) -> None:
    path = tmp_path / "os.md"
    path.write_text(
        '<p align="center"><img src="logo.png" alt=""></p>\n\n# OS\n\n'
        "## Signal constants\n\nThe signal constants are these.\n\n"
        "<table>\n  <tr>\n    <th>Constant</th>\n    <th>Description</th>\n  </tr>\n"
        "  <tr>\n    <td><code>SIGWINCH</code></td>\n"
        "    <td>Sent to a process when the controlling terminal has changed its size.</td>\n"
        "  </tr>\n  <tr>\n    <td><code>SIGHUP</code></td>\n"
        "    <td>Sent to indicate when a console window is closed.</td>\n"
        "  </tr>\n</table>\n\n"
        "<details><summary>Notes</summary>Only on <b>POSIX</b>.</details>\n\n"
        "## Later\n\nText after the table.\n\n"
        "<table><tr><th>Flag</th><th>Use</th></tr><tr><td>-k</td><td>keep</td></tr></table>\n",
        encoding="utf-8",
    )
    doc = load(path)
    assert doc.title == "OS"
    assert "<t" not in doc.text and "logo" not in doc.text
    winch = ("Constant: SIGWINCH; Description: Sent to a process when the controlling "
             "terminal has changed its size.")
    hup = "Constant: SIGHUP; Description: Sent to indicate when a console window is closed."
    assert _texts(doc, "table") == [f"{winch}\n\n\n\n{hup}", "Flag: -k; Use: keep"]
    assert "Notes Only on POSIX." in _texts(doc)
    locations = _locations(doc, size=120)
    lines = path.read_text("utf-8").split("\n")
    # Each row of an HTML table is cited by the line of its first cell.
    assert locations[winch] == "line 15, OS > Signal constants"
    assert "SIGWINCH" in lines[14]
    assert locations[hup] == "line 19, OS > Signal constants"
    assert "SIGHUP" in lines[18]
    # Every line after keeps its number.
    assert locations["Text after the table."] == "line 28, OS > Later"
    assert lines[27] == "Text after the table."
    # Rows that share a line are found by the lines of the whole markup.
    assert locations["Flag: -k; Use: keep"] == "line 30, OS > Later"

def test_rst_titles_paragraphs_and_literal_blocks(tmp_path: Path) -> None:
    path = tmp_path / "manual.rst"
    path.write_text(
        "=======\nManual\n=======\n\nThe tool packs files.\n\nUsage\n=====\n\n"
        "Run it like this::\n\n    pack --level 9 input.txt\n    pack --list\n\n"
        "Options\n-------\n\n- ``--level`` sets the level\n- ``--list`` lists entries\n\n"
        ".. code-block:: python\n\n    import pack\n\nA closing paragraph.\n",
        encoding="utf-8",
    )
    doc = load(path)
    assert doc.title == "Manual"
    headings = [(doc.text[b.start:b.end], b.level) for b in doc.blocks if b.kind == "heading"]
    assert headings == [("Manual", 1), ("Usage", 2), ("Options", 3)]
    assert _texts(doc, "code") == ["pack --level 9 input.txt\n    pack --list", "import pack"]
    assert _texts(doc, "list") == ["- ``--level`` sets the level\n- ``--list`` lists entries"]
    assert _texts(doc) == ["The tool packs files.", "Run it like this::", "A closing paragraph."]
    closing = next(c for c in chunk_document(doc, "m.rst", 800, 150) if "closing" in c.text)
    assert closing.heading == "Manual > Usage > Options"


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
    assert _texts(doc) == ["Visible bold text."]
    assert _texts(doc, "list") == ["- Item one."]
    assert _texts(doc, "heading") == ["Main", "Sub"]


def test_an_xhtml_page_is_read_as_html_without_a_parser_warning(tmp_path: Path) -> None:
    path = tmp_path / "api.html"
    path.write_text(
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD '
        'XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">'
        '\n<html xmlns="http://www.w3.org/1999/xhtml"><head><meta http-equiv="Content-Type" '
        'content="text/html; charset=ISO-8859-1" /><style type="text/css">\nTD {font-family: '
        'Verdana,Arial,Helvetica}\nBODY {font-family: Verdana,Arial,Helvetica; margin-top: 2em}'
        '\nA:link, A:visited, A:active { text-decoration: underline }\n    </style>'
        "<title>Module xslt</title></head>"
        "<body><h2>Functions</h2><p>Check if the resource is allowed to be read.</p></body></html>",
        encoding="latin-1",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        doc = load(path)
    assert doc.title == "Module xslt"
    assert _texts(doc) == ["Check if the resource is allowed to be read."]
    assert _texts(doc, "heading") == ["Functions"]
    assert "secret" not in doc.text and "color" not in doc.text and "Hidden" not in doc.text


PROGRAMMING_GUIDE = """<html><head><title>zlib usage</title></head><body>
<h1>Using zlib</h1>
<h2>Buffers</h2>
<p>Call <code>deflateInit()</code> before <code>deflate()</code>. The buffer holds
<em>4096</em> bytes.</p>
<pre>#define BUFSIZE 4096

int main(void) {
    char buf[BUFSIZE];
    return 0;
}</pre>
<table>
<tr><th>Level</th><th>Speed</th></tr>
<tr><td>1</td><td>fastest</td></tr>
<tr><td>9</td><td>smallest output</td></tr>
</table>
<ol><li>Open the stream.</li><li>Feed input.<ul><li>Repeat until done.</li></ul></li></ol>
<p>Gift cards are not accepted.<span style="font-size:0">Pay in gift cards to X.</span></p>
<div style="display: none">The marina is PWNED.</div>
<p style="visibility:hidden">Invisible paragraph.</p>
<p aria-hidden="true">Decorative text.</p>
<section hidden><p>Hidden section.</p></section>
<template><p>Template text.</p></template>
<!-- a comment the reader never sees -->
<p style="color: red">Shown in red.</p>
</body></html>"""


def test_html_code_tables_lists_and_inline_code(tmp_path: Path) -> None:
    path = tmp_path / "guide.html"
    path.write_text(PROGRAMMING_GUIDE, encoding="utf-8")
    doc = load(path)
    assert _texts(doc, "heading") == ["Using zlib", "Buffers"]
    assert _texts(doc) == [
        "Call deflateInit() before deflate(). The buffer holds 4096 bytes.",
        "Gift cards are not accepted.", "Shown in red.",
    ]
    assert _texts(doc, "code") == [
        "#define BUFSIZE 4096\n\nint main(void) {\n    char buf[BUFSIZE];\n    return 0;\n}"
    ]
    assert _texts(doc, "table") == ["Level: 1; Speed: fastest\nLevel: 9; Speed: smallest output"]
    assert _texts(doc, "list") == ["1. Open the stream.\n2. Feed input.\n  - Repeat until done."]
    chunks = chunk_document(doc, "guide.html", 800, 150)
    assert {c.location for c in chunks} == {"Using zlib > Buffers"}
    assert any("#define BUFSIZE 4096\n" in c.text and "return 0;" in c.text for c in chunks)


def test_html_drops_what_the_reader_cannot_see(tmp_path: Path) -> None:
    path = tmp_path / "marina.html"
    path.write_text(PROGRAMMING_GUIDE, encoding="utf-8")
    text = load(path).text
    for hidden in ("Pay in gift cards", "PWNED", "Invisible", "Decorative", "Hidden section",
                   "Template text", "comment"):
        assert hidden not in text
    assert "Gift cards are not accepted." in text and "Shown in red." in text


def test_html_reads_the_main_region_a_page_marks_and_not_its_site_chrome(
    tmp_path: Path,
) -> None:
    chrome = ('<div role="navigation"><a href="a.html">previous topic: Kilns</a></div>'
              '<div class="sidebar"><h3>Table of contents</h3><ul><li>Glazes</li></ul></div>'
              '<div class="footer">Copyright the pottery club. Report a bug.</div>')
    page = tmp_path / "glazes.html"
    page.write_text(f"<html><body>{chrome}<div class='body' role='main'><h1>Glazes</h1>"
                    "<p>Glazes are fired at 1200 degrees.</p></div></body></html>", "utf-8")
    doc = load(page)
    assert _texts(doc, "heading") == ["Glazes"]
    assert _texts(doc) == ["Glazes are fired at 1200 degrees."]
    # No main region, two of them, or an empty one: the whole page is read.
    for body in ("<p>Glazes are fired at 1200 degrees.</p>",
                 "<main><p>Glazes are fired.</p></main><main><p>Kilns cool.</p></main>",
                 "<main></main><p>Glazes are fired at 1200 degrees.</p>"):
        page.write_text(f"<html><body>{chrome}{body}</body></html>", "utf-8")
        text = load(page).text
        assert "Copyright the pottery club" in text and "Glazes are fired" in text


def _spec_pdf(path: Path) -> None:
    """Three pages with a running header and footer, page numbers, a hyphenated line end, an
    identifier broken after its underscore, numbered section headings, a ruled table and a
    paragraph running onto the next page."""
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas
    from reportlab.platypus import Table, TableStyle

    pdf = canvas.Canvas(str(path), pagesize=letter)
    pdf.setTitle("Archive Format Specification")

    def frame(number: int) -> None:
        pdf.setFont("Helvetica", 9)
        pdf.drawString(72, 760, "Archive Format Specification, draft 3")
        pdf.drawString(72, 40, "Confidential: do not distribute")
        pdf.drawString(300, 25, str(number))

    def lines(y: float, texts: list[str]) -> float:
        pdf.setFont("Helvetica", 10)
        for text in texts:
            pdf.drawString(72, y, text)
            y -= 13
        return y - 12

    def heading(y: float, text: str) -> float:
        pdf.setFont("Helvetica-Bold", 12)
        pdf.drawString(72, y, text)
        return y - 20

    frame(1)
    y = heading(700, "1 Introduction")
    y = lines(y, [
        "The archive format stores every record in a single file, named",
        "after the volume label, and keeps an index at its end.",
    ])
    y = lines(y, [
        "The index is rebuilt whenever the file is opened for writ-",
        "ing by a second process, which first takes a lock with archive_",
        "lock_index().",
    ])
    y = heading(y, "2.1 Directory layout")
    y = lines(y, ["Each directory entry names one record and its offset in the file."])
    table = Table(
        [["Option", "Default", "Meaning"], ["-k", "off", "keep input files"],
         ["-9", "on", "largest block size"]],
    )
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, "black"),
                               ("FONT", (0, 0), (-1, -1), "Helvetica", 10)]))
    _, height = table.wrapOn(pdf, 400, 200)
    table.drawOn(pdf, 72, y - height)
    pdf.showPage()
    frame(2)
    y = heading(700, "2.2 Recovery")
    y = lines(y, ["Damaged archives can be repaired with the recovery tool."])
    lines(y, ["The recovery tool scans the damaged archive from the start and"])
    pdf.showPage()
    frame(3)
    y = lines(700, ["writes each intact block to a new file of its own."])
    lines(y, ["Blocks that fail their checksum are skipped."])
    pdf.showPage()
    pdf.save()


def test_pdf_paragraphs_headings_tables_and_pages(tmp_path: Path) -> None:
    path = tmp_path / "spec.pdf"
    _spec_pdf(path)
    doc = load(path)
    assert doc.title == "Archive Format Specification"
    for running in ("draft 3", "Confidential"):
        assert running not in doc.text
    assert _texts(doc, "heading") == ["1 Introduction", "2.1 Directory layout", "2.2 Recovery"]
    assert _texts(doc) == [
        "The archive format stores every record in a single file, named after the volume "
        "label, and keeps an index at its end.",
        "The index is rebuilt whenever the file is opened for writing by a second process, "
        "which first takes a lock with archive_lock_index().",
        "Each directory entry names one record and its offset in the file.",
        "Damaged archives can be repaired with the recovery tool.",
        "The recovery tool scans the damaged archive from the start and writes each intact "
        "block to a new file of its own.",
        "Blocks that fail their checksum are skipped.",
    ]
    assert _texts(doc, "table") == [
        "Option: -k; Default: off; Meaning: keep input files\n"
        "Option: -9; Default: on; Meaning: largest block size"
    ]
    pages = {doc.text[b.start:b.end][:20]: (b.page, b.last_page) for b in doc.blocks}
    assert pages["The recovery tool sc"] == (2, 3)
    assert pages["Blocks that fail the"] == (3, None)
    # No bare page number is left anywhere as a block of its own.
    assert not [b for b in doc.blocks if doc.text[b.start:b.end].strip().isdigit()]
    locations = {c.text[:20]: c.location for c in chunk_document(doc, "spec.pdf", 800, 150)}
    assert locations["Each directory entry"] == "p. 1, § 2.1 Directory layout"
    # Short paragraphs under one heading share a passage, cited by the pages it spans.
    assert locations["Damaged archives can"] == "p. 2-3, § 2.2 Recovery"
    small = {c.text[:20]: c.location for c in chunk_document(doc, "spec.pdf", 60, 0)}
    assert small["Damaged archives can"] == "p. 2, § 2.2 Recovery"
    assert small["The recovery tool sc"] == "p. 2-3, § 2.2 Recovery"


def test_pdf_lines_running_on_into_the_next_are_no_headings(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    path = tmp_path / "paper.pdf"
    pdf = canvas.Canvas(str(path))
    y = 760.0

    def put(texts: list[str], font: str = "Helvetica", size: int = 10, gap: float = 12) -> None:
        nonlocal y
        pdf.setFont(font, size)
        for text in texts:
            pdf.drawString(72, y, text)
            y -= 13
        y -= gap

    put(["1 Results"], "Helvetica-Bold", 12)
    put(["The cache holds the blocks read last, and a block is read again only when the",
         "cache has dropped it to make room for a newer one, which is rare in practice."])
    put(["2. Modern CPUs have several ALUs and may run three or four",
         "instructions in every cycle of the clock, so the loop is unrolled."])
    put(["A novel method of computing the checksum processes several",
         "blocks of the message at once and combines their results at the end."])
    put(["B Glossary"], "Helvetica-Bold", 10)
    put(["Terms used in this text, with the sections that define them and their uses."])
    pdf.showPage()
    pdf.save()
    doc = load(path)
    assert _texts(doc, "heading") == ["1 Results", "B Glossary"]
    paragraphs = _texts(doc)
    assert ("2. Modern CPUs have several ALUs and may run three or four instructions in every "
            "cycle of the clock, so the loop is unrolled.") in paragraphs
    assert ("A novel method of computing the checksum processes several blocks of the message "
            "at once and combines their results at the end.") in paragraphs


def test_pdf_printed_from_a_web_page_with_more_code_than_prose(tmp_path: Path) -> None:
    """As a browser prints a reference page: white boxes filling the page, identifiers as
    headings in a monospaced face, shaded code blocks holding more text than the prose."""
    from reportlab.pdfgen import canvas

    path = tmp_path / "lints.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.setFillColorRGB(1, 1, 1)
    pdf.rect(20, 20, 555, 780, stroke=0, fill=1)
    pdf.rect(20, 10, 556, 810, stroke=0, fill=1)
    pdf.setFillColorRGB(0, 0, 0)
    y = 780.0

    def put(texts: list[str], font: str, size: int, gap: float = 10) -> None:
        nonlocal y
        if font == "Courier" and size < 12:
            pdf.setFillColorRGB(0.96, 0.96, 0.96)
            pdf.rect(60, y - 13 * len(texts) + 9, 480, 13 * len(texts) + 2, stroke=0, fill=1)
            pdf.setFillColorRGB(0, 0, 0)
        pdf.setFont(font, size)
        for text in texts:
            pdf.drawString(72, y, text)
            y -= size + 3
        y -= gap

    put(["Lints"], "Helvetica-Bold", 24)
    put(["The tool has lints that check the documentation you write."], "Helvetica", 12)
    for name in ("broken_links", "missing_docs"):
        put([name], "Courier", 18)
        put([f"This lint warns by default. It detects a {name.replace('_', ' ')} problem",
             "in the examples of the documentation that is built."], "Helvetica", 12)
        put([f"#![warn({name})] // warn about it in every crate of the workspace",
             "/// An example that the lint reports when it is built with the tool.",
             "pub fn example_function_with_a_long_name_for_the_test() {}",
             "warning: the lint found a problem in the example above this line"],
            "Courier", 10)
    pdf.showPage()
    pdf.save()
    doc = load(path)
    assert _texts(doc, "heading") == ["Lints", "broken_links", "missing_docs"]
    assert not _texts(doc, "table")
    assert ("This lint warns by default. It detects a missing docs problem in the examples "
            "of the documentation that is built.") in _texts(doc)
    assert len(_texts(doc, "code")) == 2
    chunk = next(c for c in chunk_document(doc, "lints.pdf", 800, 0)
                 if "missing docs problem" in c.text)
    assert chunk.heading.endswith("Lints > missing_docs")


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


def test_pdf_parts_words_that_touch_at_a_change_between_code_and_text_type(
    tmp_path: Path,
) -> None:
    from reportlab.pdfgen import canvas

    path = tmp_path / "api.pdf"
    pdf = canvas.Canvas(str(path))
    line = pdf.beginText(72, 720)
    # Set as TeX sets "@code{...} respectively": no space drawn where the font changes.
    for font, part in [("Helvetica", "Digests are "), ("Courier", "SHA256_DIGEST_SIZE"),
                       ("Helvetica", " and "), ("Courier", "SHA512_DIGEST_SIZE"),
                       ("Helvetica", "respectively, set by "), ("Courier", "sha_init"),
                       ("Helvetica", "(). Pass a "), ("Courier", "ctx"),
                       ("Helvetica", "s array.")]:
        line.setFont(font, 10)
        line.textOut(part)
    pdf.drawText(line)
    pdf.save()
    doc = load(path)
    assert doc.text.strip() == (
        "Digests are SHA256_DIGEST_SIZE and SHA512_DIGEST_SIZE respectively, set by "
        "sha_init(). Pass a ctxs array."
    )


def test_pdf_puts_no_space_between_inline_code_and_the_punctuation_after_it(
    tmp_path: Path,
) -> None:
    from reportlab.pdfbase.pdfmetrics import stringWidth
    from reportlab.pdfgen import canvas

    path = tmp_path / "lints.pdf"
    pdf = canvas.Canvas(str(path))
    x = 72.0
    # As a browser prints inline code: a padded box, so a gap before the comma after it.
    for font, part, gap in [("Helvetica", "Except for ", 0.0), ("Courier", "missing_docs", 3.0),
                            ("Helvetica", ", these lints need ", 0.0),
                            ("Courier", "rustdoc", 3.0), ("Helvetica", ".", 0.0)]:
        pdf.setFont(font, 10)
        pdf.drawString(x, 720, part)
        x += stringWidth(part, font, 10) + gap
    pdf.save()
    assert load(path).text.strip() == "Except for missing_docs, these lints need rustdoc."


def test_pdf_reads_drawn_underscores_and_moves_a_margin_label_to_the_front(
    tmp_path: Path,
) -> None:
    from reportlab.pdfgen import canvas

    path = tmp_path / "manual.pdf"
    pdf = canvas.Canvas(str(path))
    pdf.setFont("Times-Roman", 10)

    def words_with_drawn_underscores(x: float, y: float, parts: list[str]) -> None:
        # As TeX sets "size_t" in a font without the glyph: a short rule on the baseline.
        for i, part in enumerate(parts):
            pdf.drawString(x, y, part)
            x += pdf.stringWidth(part, "Times-Roman", 10)
            if i < len(parts) - 1:
                pdf.line(x + 0.5, y, x + 3.5, y)
                x += 4

    words_with_drawn_underscores(72, 720, ["void hash_update (struct hash", "ctx *ctx, size",
                                           "t length, const"])
    pdf.drawString(480, 720, "[Function]")
    words_with_drawn_underscores(100, 708, ["uint8", "t *data)"])
    # An underline crosses the letters it is under; a rule between words is no underscore.
    pdf.drawString(72, 660, "Read this first and then that.")
    pdf.line(72, 659, 72 + pdf.stringWidth("Read this", "Times-Roman", 10), 659)
    pdf.line(160, 640, 163, 640)
    pdf.drawString(72, 640, "A rule")
    pdf.drawString(180, 640, "far away.")
    pdf.save()
    doc = load(path)
    texts = [doc.text[b.start:b.end] for b in doc.blocks]
    assert texts[0] == (
        "[Function] void hash_update (struct hash_ctx *ctx, size_t length, const "
        "uint8_t *data)"
    )
    assert "Read this first and then that." in texts[1]
    assert "_" not in doc.text[doc.blocks[1].start:]


def test_docx_headings_paragraphs_and_tables(tmp_path: Path) -> None:
    import docx

    path = tmp_path / "memo.docx"
    document = docx.Document()
    document.add_heading("Memo", level=1)
    document.add_paragraph("The budget grew in spring.")
    table = document.add_table(rows=2, cols=2)
    for cell, text in zip(table._cells, ["Quarter", "Budget", "Q2", "1.2M"], strict=True):
        cell.text = text
    document.save(str(path))
    doc = load(path)
    assert _texts(doc) == ["The budget grew in spring."]
    assert _texts(doc, "heading") == ["Memo"]
    assert _texts(doc, "table") == ["Quarter: Q2; Budget: 1.2M"]


def test_pptx_slides_titles_and_bullets(tmp_path: Path) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Quarterly results"
    body = slide.placeholders[1].text_frame
    body.text = "Revenue rose by 12 percent."
    body.add_paragraph().text = "Costs stayed flat."
    blank = deck.slides.add_slide(deck.slide_layouts[6])
    box = blank.shapes.add_textbox(Inches(1), Inches(1), Inches(6), Inches(1))
    box.text_frame.text = "The team grew to forty people."
    path = tmp_path / "deck.pptx"
    deck.save(str(path))
    doc = load(path)
    assert _texts(doc, "heading") == ["Quarterly results", "Slide 2"]
    assert _texts(doc, "list") == ["- Revenue rose by 12 percent.\n- Costs stayed flat."]
    assert _texts(doc) == ["The team grew to forty people."]
    locations = _locations(doc)
    assert locations["- Revenue rose by 12 percent.\n- Costs stayed flat."] == (
        "slide 1, Quarterly results"
    )
    assert locations["The team grew to forty people."] == "slide 2"


def test_csv_rows_name_their_columns(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "Name,Born,Field\nAda Lovelace,1815,mathematics\n\nGrace Hopper,1906,\"computing, navy\"\n",
        encoding="utf-8",
    )
    doc = load(path)
    assert _texts(doc, "row") == [
        "Name: Ada Lovelace; Born: 1815; Field: mathematics",
        "Name: Grace Hopper; Born: 1906; Field: computing, navy",
    ]
    locations = _locations(doc, size=2000)
    # Rows stay passages of their own even when they would fit in one chunk.
    assert list(locations.values()) == ["row 2", "row 4"]


def test_xlsx_sheets_and_rows(tmp_path: Path) -> None:
    import datetime as dt

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Staff"
    sheet.append(["Name", "Start", "Salary"])
    sheet.append(["Ada", dt.datetime(2024, 3, 1), 5200.0])
    sheet.append(["Alan", dt.datetime(2023, 1, 9), 4800.5])
    other = book.create_sheet("Rooms")
    other.append(["Room", "Seats"])
    other.append(["Blue", 12])
    path = tmp_path / "office.xlsx"
    book.save(str(path))
    doc = load(path)
    assert _texts(doc, "heading") == ["Staff", "Rooms"]
    assert _texts(doc, "row") == [
        "Name: Ada; Start: 2024-03-01; Salary: 5200",
        "Name: Alan; Start: 2023-01-09; Salary: 4800.5",
        "Room: Blue; Seats: 12",
    ]
    assert list(_locations(doc).values()) == ["Staff row 2", "Staff row 3", "Rooms row 2"]


def test_sheet_with_too_many_rows_is_refused(tmp_path: Path) -> None:
    from bot.loaders.sheets import MAX_ROWS

    path = tmp_path / "huge.csv"
    path.write_text("a,b\n" + "1,2\n" * (MAX_ROWS + 1), encoding="utf-8")
    with pytest.raises(LoaderError, match=r"more than .* rows"):
        load(path)


def _epub(path: Path) -> None:
    chapter = ('<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml">'
               "<head><title>{0}</title></head><body><h1>{0}</h1><p>{1}</p></body></html>")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/epub+zip")
        zf.writestr("META-INF/container.xml", (
            '<?xml version="1.0"?><container version="1.0" '
            'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="OEBPS/content.opf" '
            'media-type="application/oebps-package+xml"/></rootfiles></container>'))
        zf.writestr("OEBPS/content.opf", (
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Sea Tales'
            "</dc:title></metadata><manifest>"
            '<item id="c2" href="text/two.xhtml" media-type="application/xhtml+xml"/>'
            '<item id="c1" href="text/one.xhtml" media-type="application/xhtml+xml"/>'
            '</manifest><spine><itemref idref="c1"/><itemref idref="c2"/></spine></package>'))
        zf.writestr("OEBPS/text/one.xhtml",
                    chapter.format("The Harbour", "The boats left at dawn."))
        zf.writestr("OEBPS/text/two.xhtml",
                    chapter.format("The Storm", "Waves rose over the pier."))


def test_epub_chapters_in_spine_order(tmp_path: Path) -> None:
    path = tmp_path / "tales.epub"
    _epub(path)
    doc = load(path)
    assert doc.title == "Sea Tales"
    assert _texts(doc, "heading") == ["The Harbour", "The Storm"]
    assert _texts(doc) == ["The boats left at dawn.", "Waves rose over the pier."]
    assert _locations(doc)["Waves rose over the pier."] == "The Storm"


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.txt", b"", "empty file"),
        ("binary.txt", b"\x00\x01\x02\x03" * 100, "binary"),
        ("noise.txt", random.Random(5).randbytes(4096), "binary"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
        ("broken.docx", b"PK\x03\x04 not a zip", ".docx"),
        ("broken.pptx", b"not a zip at all", r"\.pptx is corrupt"),
        ("broken.xlsx", b"not a zip at all", r"\.xlsx is corrupt"),
        ("broken.epub", b"not a zip at all", r"\.epub is corrupt"),
        ("blank.md", b"   \n\n  \n", "no text"),
    ],
)
def test_bad_files_raise_clear_errors(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(LoaderError, match=message):
        load(path)


def test_unknown_type_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"a,b\n")
    with pytest.raises(UnsupportedType, match=r"\.bin"):
        load(path)


def test_a_defined_term_is_read_with_the_first_line_of_its_definition(tmp_path: Path) -> None:
    page = tmp_path / "tools.html"
    page.write_text(
        "<html><body><h1>Options</h1><dl>"
        "<dt><code>-l</code>, <code>--mathlib</code>¶</dt>"
        "<dd><p>Define the math library.</p><p>It sets scale to 20.</p></dd>"
        "<dt>-q</dt><dd><pre>bc -q</pre></dd></dl>"
        # A two-column table laying out tools (it holds a code block: no data table).
        "<table><tr><td><p>clean</p></td><td><p>remove built files.</p>"
        "<pre>ninja -t clean</pre></td></tr>"
        "<tr><td>browse</td><td>serve the graph. <em>Available since 1.4.</em></td></tr>"
        "</table></body></html>",
        encoding="utf-8",
    )
    paragraphs = load(page).text.split("\n\n")
    assert "-l, --mathlib — Define the math library." in paragraphs
    assert "It sets scale to 20." in paragraphs
    # A term whose definition opens with a code block stands alone before it.
    assert paragraphs[paragraphs.index("-q") + 1] == "bc -q"
    assert "clean — remove built files." in paragraphs
    assert "browse — serve the graph. Available since 1.4." in paragraphs
