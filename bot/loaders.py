"""Turn files into text blocks (paragraphs and headings) with their place in the source."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".pdf", ".html", ".htm", ".docx")

# Uncompressed size a .docx may claim before it is treated as a zip bomb.
MAX_DOCX_UNCOMPRESSED = 200 * 1024 * 1024


class LoaderError(Exception):
    """A file that cannot be read; the message is meant for the user."""


class UnsupportedType(LoaderError):
    """A file whose type the bot does not read."""


@dataclass(frozen=True)
class Block:
    """A paragraph or heading: ``text == doc.text[start:end]``."""

    start: int
    end: int
    kind: str = "para"  # "para" or "heading"
    level: int = 1
    page: int | None = None


@dataclass
class LoadedDocument:
    """Extracted text of one file and the blocks it is made of."""

    text: str
    title: str
    blocks: list[Block] = field(default_factory=list)


def load(path: Path, max_bytes: int | None = None) -> LoadedDocument:
    """Read ``path`` into a :class:`LoadedDocument`, or raise :class:`LoaderError`."""
    suffix = path.suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        raise UnsupportedType(f"unsupported file type {suffix or '(none)'!r}")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LoaderError(f"cannot read file: {exc.strerror}") from exc
    if size == 0:
        raise LoaderError("file is empty")
    if max_bytes is not None and size > max_bytes:
        raise LoaderError(
            f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit "
            "(setting BOT_MAX_FILE_MB)"
        )
    doc = reader(path)
    if not doc.text.strip() or not any(b.kind == "para" for b in doc.blocks):
        raise LoaderError("no text found in file")
    if not doc.title:
        doc.title = path.stem
    return doc


def decode_text(data: bytes) -> str:
    """Decode UTF-8 (or BOM-marked UTF-16) text; refuse binary and other encodings."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise LoaderError("file has a UTF-16 byte-order mark but is not valid UTF-16") from exc
    if b"\x00" in data[:8192]:
        raise LoaderError("file looks binary (contains NUL bytes), not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LoaderError(
            f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "convert it to UTF-8 and ingest it again"
        ) from exc
    control = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if control > 0.05 * min(len(text), 8192):
        raise LoaderError("file looks binary (many control characters), not text")
    return text


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_TERMINAL = tuple(".!?:;,\"'’”)]")


_SMALL_WORDS = {"a", "an", "the", "of", "and", "or", "in", "on", "for", "to", "with", "vs"}


def _looks_like_heading(line: str) -> bool:
    words = line.split()
    if not (0 < len(words) <= 10 and len(line) <= 80 and line.lstrip()[:1].isupper()):
        return False
    if not line.rstrip().endswith(_TERMINAL):
        return True
    # A short title-case question ("A New Paradigm?") is a heading, not a sentence.
    return (
        line.rstrip().endswith("?") and len(words) <= 6
        and all(w[:1].isupper() or w.lower() in _SMALL_WORDS for w in words)
    )


def blocks_from_plain_text(text: str, markdown: bool = False) -> list[Block]:
    """Split text into paragraph and heading blocks whose offsets index ``text``.

    A blank line ends a paragraph. Inside a run of lines, a line that ends a sentence
    or looks like a heading ends its block too, so both one-paragraph-per-line files and
    hard-wrapped files come out as paragraphs.
    """
    blocks: list[Block] = []
    start: int | None = None
    end = 0
    pos = 0
    lines = text.splitlines(keepends=True)
    for i, raw in enumerate(lines):
        line_start, pos = pos, pos + len(raw)
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        if not stripped:
            if start is not None:
                blocks.append(Block(start, end))
                start = None
            continue
        lead = line_start + (len(line) - len(line.lstrip()))
        line_end = line_start + len(line.rstrip())
        md = _MD_HEADING.match(stripped) if markdown else None
        next_line = lines[i + 1].strip() if i + 1 < len(lines) else ""
        is_heading = md is not None or (
            not markdown and start is None and next_line != ""
            # A following line in lower case continues a hard-wrapped sentence.
            and not next_line[:1].islower() and _looks_like_heading(stripped)
        )
        if is_heading:
            if start is not None:
                blocks.append(Block(start, end))
                start = None
            level = len(md.group(1)) if md else 1
            blocks.append(Block(lead, line_end, kind="heading", level=level))
            continue
        if start is None:
            start = lead
        end = line_end
        if stripped.endswith(_TERMINAL) or not next_line:
            blocks.append(Block(start, end))
            start = None
    if start is not None:
        blocks.append(Block(start, end))
    return blocks


def _read_text(path: Path) -> LoadedDocument:
    text = decode_text(path.read_bytes())
    return LoadedDocument(text=text, title="", blocks=blocks_from_plain_text(text))


def _read_markdown(path: Path) -> LoadedDocument:
    text = decode_text(path.read_bytes())
    blocks = blocks_from_plain_text(text, markdown=True)
    title = next(
        (text[b.start:b.end].lstrip("#").strip() for b in blocks
         if b.kind == "heading" and b.level == 1),
        "",
    )
    return LoadedDocument(text=text, title=title, blocks=blocks)


class _Builder:
    """Accumulates extracted pieces into one text with block offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.blocks: list[Block] = []
        self.length = 0

    def add(self, piece: str, kind: str = "para", level: int = 1, page: int | None = None) -> None:
        piece = piece.strip()
        if not piece:
            return
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        self.blocks.append(Block(self.length, self.length + len(piece), kind, level, page))
        self.parts.append(piece)
        self.length += len(piece)

    def build(self, title: str) -> LoadedDocument:
        return LoadedDocument(text="".join(self.parts), title=title, blocks=self.blocks)


def _read_pdf(path: Path) -> LoadedDocument:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise LoaderError("reading PDF needs pypdf: pip install pypdf") from exc
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception as exc:
                raise LoaderError("PDF is encrypted and cannot be opened") from exc
            if not ok:
                raise LoaderError("PDF is password-protected; remove the password first")
        builder = _Builder()
        for number, page in enumerate(reader.pages, start=1):
            page_text = page.extract_text() or ""
            sub = blocks_from_plain_text(page_text)
            for b in sub:
                if b.kind == "para":
                    builder.add(page_text[b.start:b.end], page=number)
        meta_title = ""
        if reader.metadata is not None and reader.metadata.title:
            meta_title = str(reader.metadata.title)
    except LoaderError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, AttributeError) as exc:
        raise LoaderError(f"PDF is corrupt or truncated: {exc}") from exc
    except Exception as exc:
        raise LoaderError(f"PDF could not be read: {type(exc).__name__}: {exc}") from exc
    return builder.build(meta_title)


_HTML_BLOCKS = {"p", "li", "pre", "blockquote", "td", "th", "dt", "dd", "figcaption", "caption"}
_HTML_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_HTML_HIDDEN = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object"}


def _read_html(path: Path) -> LoadedDocument:
    from bs4 import BeautifulSoup
    from bs4.element import NavigableString, Tag

    text = decode_text(path.read_bytes())
    try:
        soup = BeautifulSoup(text, "lxml")
    except Exception as exc:
        raise LoaderError(f"HTML could not be parsed: {exc}") from exc
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else ""
    builder = _Builder()
    pending: list[str] = []

    def flush() -> None:
        if pending:
            builder.add(" ".join(" ".join(pending).split()))
            pending.clear()

    # Iterative walk: deeply nested markup must not exhaust the Python stack.
    body = soup.body or soup
    stack: list[object] = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, str) and node == "\0flush":
            flush()
        elif isinstance(node, NavigableString):
            if type(node) is NavigableString:
                pending.append(str(node))
        elif isinstance(node, Tag):
            name = node.name.lower() if node.name else ""
            if name in _HTML_HIDDEN or node.get("hidden") is not None:
                continue
            if name in _HTML_HEADINGS:
                flush()
                builder.add(
                    " ".join(node.get_text(" ").split()), kind="heading",
                    level=_HTML_HEADINGS[name],
                )
                continue
            block = name in _HTML_BLOCKS or name in {"div", "section", "article", "br", "tr"}
            if block:
                stack.append("\0flush")
            stack.extend(reversed(list(node.children)))
            if block:
                stack.append("\0flush")
    flush()
    return builder.build(title)


def _read_docx(path: Path) -> LoadedDocument:
    try:
        import docx
    except ImportError as exc:  # pragma: no cover - dependency of the package
        raise LoaderError("reading .docx needs python-docx: pip install python-docx") from exc
    try:
        with zipfile.ZipFile(path) as zf:
            total = sum(info.file_size for info in zf.infolist())
            if total > MAX_DOCX_UNCOMPRESSED:
                raise LoaderError(
                    f".docx expands to {total / 1e6:.0f} MB (zip bomb?); refusing to open it"
                )
        document = docx.Document(str(path))
    except LoaderError:
        raise
    except Exception as exc:
        raise LoaderError(f".docx is corrupt or not a Word document: {exc}") from exc
    builder = _Builder()
    title = document.core_properties.title or ""
    for para in document.paragraphs:
        style = (para.style.name if para.style is not None else "") or ""
        if style.startswith("Heading") or style == "Title":
            digits = "".join(ch for ch in style if ch.isdigit())
            builder.add(para.text, kind="heading", level=int(digits) if digits else 1)
            if style == "Title" and not title:
                title = para.text.strip()
        else:
            builder.add(para.text)
    for table in document.tables:
        for row in table.rows:
            builder.add(" | ".join(cell.text.strip() for cell in row.cells))
    return builder.build(title)


_READERS: dict[str, Callable[[Path], LoadedDocument]] = {
    ".txt": _read_text,
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".pdf": _read_pdf,
    ".html": _read_html,
    ".htm": _read_html,
    ".docx": _read_docx,
}
