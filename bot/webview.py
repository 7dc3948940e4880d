"""HTML for the browser chat: answers with clickable citations, passages, document lists.

Every piece of document or user text is escaped here, so a document holding ``<script>`` or
markup shows up as text. The chat renders messages as Markdown; each message is one HTML
block without blank lines, which Markdown passes through untouched.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path
from urllib.parse import quote as url_quote

from bot import citations
from bot.documents import PDF_SUFFIX, Opened, document_id
from bot.models import Answer, Chunk, SourceInfo, emphasise

# Characters Markdown would still read inside text (``$`` is for LaTeX in some renderers).
_MARKDOWN_ACTIVE = str.maketrans({"$": "&#36;", "\\": "&#92;", "`": "&#96;", "*": "&#42;",
                                  "_": "&#95;", "~": "&#126;", "|": "&#124;"})


def text(value: str) -> str:
    """Escape ``value`` for HTML, keep its line breaks, and defuse Markdown characters.
    A run of blank lines shows as one: a table read from HTML markup keeps each row on the
    line of the file it is written on, with blank lines where the markup's other lines were."""
    value = _BLANK_RUN.sub("\n\n", value.replace("\r\n", "\n"))
    return escape(value, quote=True).translate(_MARKDOWN_ACTIVE).replace("\n", "<br>")


_BLANK_RUN = re.compile(r"\n(?:[ \t]*\n){2,}")


_BLOCK_START = re.compile(r"^(\d+)([.)])|^([#>+=-])")


def user_message(question: str) -> str:
    """A question as the person typed it, as plain text (it also labels the bubble for
    screen readers, so it carries no wrapper markup)."""
    # Inline Markdown is defused by text(); these would still open a heading, quote or list.
    escaped = text(question.strip())
    return _BLOCK_START.sub(
        lambda m: f"{m.group(1)}&#{ord(m.group(2))};" if m.group(1)
        else f"&#{ord(m.group(3))};",
        escaped,
    )


def pending(partial: str = "") -> str:
    """The assistant bubble while an answer is on its way."""
    if not partial:
        return '<div class="dq-pending">Searching the documents…</div>'
    return f'<div class="dq-pending dq-streaming">{text(partial)}</div>'


def error_message(message: str) -> str:
    """A readable error in place of an answer."""
    return (
        f'<div class="dq-error" role="alert"><strong>⚠ {text(message)}</strong></div>'
    )


def highlight(passage: str, quote: str) -> str:
    """The passage as HTML with the supporting sentence marked, if it can be found."""
    if quote:
        at = passage.find(quote)
        if at < 0:
            at, length = _loose_find(passage, quote)
        else:
            length = len(quote)
        if at >= 0:
            return (
                text(passage[:at]) + '<mark class="dq-support">'
                + text(passage[at:at + length]) + "</mark>" + text(passage[at + length:])
            )
    return text(passage)


def _loose_find(passage: str, quote: str) -> tuple[int, int]:
    # The quote may differ from the passage in whitespace only (sentence splitting folds it).
    words = quote.split()
    if not words:
        return -1, 0
    pattern = r"\s+".join(re.escape(w) for w in words)
    found = re.search(pattern, passage)
    return (found.start(), found.end() - found.start()) if found else (-1, 0)


def _where(chunk: Chunk) -> str:
    return f"{chunk.source_name} · {chunk.location}"


def _groups(answer: Answer) -> list[tuple[list[int], Chunk, str]]:
    """Citations grouped by passage, so a passage cited twice is listed once."""
    groups: dict[str, tuple[list[int], Chunk, str]] = {}
    for c in answer.citations:
        key = c.chunk.id
        if key in groups:
            groups[key][0].append(c.n)
        else:
            groups[key] = ([c.n], c.chunk, c.quote)
    return list(groups.values())


def document_link(chunk: Chunk) -> str:
    """Where the web app shows ``chunk`` in its document: a PDF at the passage's page, any
    other file as its text with the passage marked. Relative, so it holds under a root path."""
    href = f"document/{document_id(chunk.source)}"
    if Path(chunk.source).suffix.lower() == PDF_SUFFIX:
        return href + (f"#page={chunk.page}" if chunk.page else "")
    return f"{href}?passage={url_quote(chunk.id, safe='')}#passage"


def _passage(anchor: str, numbers: list[int], chunk: Chunk, quote: str, open_: bool) -> str:
    label = citations.Numbering.label(numbers)
    where = text(f"Open {chunk.source_name} at this passage, in a new tab")
    return (
        f'<details class="dq-passage" id="{escape(anchor)}"{" open" if open_ else ""}>'
        f'<summary><span class="dq-n">{label}</span>{" " if label else ""}'
        f'<span class="dq-file">{text(chunk.source_name)}</span> '
        f'<span class="dq-loc">{text(chunk.location)}</span> '
        f'<a class="dq-open" href="{escape(document_link(chunk))}" target="_blank" '
        f'rel="noopener noreferrer" title="{where}">open ↗</a></summary>'
        f'<div class="dq-ptext">{highlight(chunk.text, quote)}</div></details>'
    )


def _link_markers(answer_text: str, turn: str, anchors: dict[int, str], titles: dict[int, str],
                  highlights: list[str]) -> str:
    out: list[str] = []
    last = 0
    pending = [text(h) for h in highlights if h]

    def words_of(segment: str) -> str:
        # The answer phrase is emphasised in the text between markers, never inside a link.
        html = text(segment)
        for phrase in list(pending):
            if phrase in html:
                html = emphasise(html, [phrase], '<strong class="dq-phrase">', "</strong>")
                pending.remove(phrase)
        return html

    for m, cited in citations.markers(answer_text):
        # A bracket citing no passage of this answer is quoted text ("bzip2 [2]"): shown.
        if not any(n in anchors for n in cited):
            continue
        out.append(words_of(answer_text[last:m.start()]))
        for n in cited:
            if n in anchors:
                out.append(
                    f'<a class="dq-cite" href="#{escape(anchors[n])}" data-n="{n}" '
                    f'title="{text(titles[n])}">[{n}]</a>'
                )
        last = m.end()
    out.append(words_of(answer_text[last:]))
    return "".join(out)


def answer_message(answer: Answer, turn: str) -> str:
    """The assistant bubble for a finished answer (or refusal)."""
    notes = "".join(f'<div class="dq-note"><span class="dq-note-mark">i</span> {text(n)}</div>'
                    for n in answer.notes)
    if answer.standalone_question.strip() != answer.question.strip():
        notes = (f'<div class="dq-rewrite">Understood as: '
                 f"{text(answer.standalone_question)}</div>{notes}")
    if answer.refused:
        closest = "".join(
            _passage(f"{turn}-c{i}", [], s.chunk, "", False)
            for i, s in enumerate(_distinct(answer)[:3])
        )
        offer = (
            '<div class="dq-closest-head">Closest passages in the documents:</div>' + closest
            if closest else ""
        )
        return (
            '<div class="dq-refusal" role="status"><div class="dq-refusal-head">'
            f'<span aria-hidden="true">⊘</span> {text(answer.text)}</div>'
            '<div class="dq-refusal-sub">The indexed documents do not support an answer to '
            f"this question.</div>{notes}{offer}</div>"
        )
    groups = _groups(answer)
    anchors: dict[int, str] = {}
    titles: dict[int, str] = {}
    for numbers, chunk, _ in groups:
        for n in numbers:
            anchors[n] = f"{turn}-p{numbers[0]}"
            titles[n] = _where(chunk)
    body = _link_markers(answer.text, turn, anchors, titles, answer.highlights)
    passages = "".join(
        _passage(f"{turn}-p{numbers[0]}", numbers, chunk, quote, False)
        for numbers, chunk, quote in groups
    )
    cites = (
        f'<div class="dq-cites"><div class="dq-cites-head">Sources</div>{passages}</div>'
        if passages else ""
    )
    return f'<div class="dq-answer"><div class="dq-text">{body}</div>{notes}{cites}</div>'


def _distinct(answer: Answer) -> list:
    seen: set[str] = set()
    out = []
    for s in answer.retrieved:
        key = " ".join(s.chunk.text.split())
        if s.chunk.id in seen or key in seen:
            continue
        seen |= {s.chunk.id, key}
        out.append(s)
    return out


def sources_panel(answer: Answer | None) -> str:
    """The side panel: every passage the last answer cites (or the closest, after a refusal)."""
    if answer is None:
        return ('<div class="dq-panel-empty">Ask a question: the passages an answer cites '
                "show up here, with the supporting sentence highlighted.</div>")
    if answer.refused:
        items = _distinct(answer)[:5]
        if not items:
            return '<div class="dq-panel-empty">No passage came close to this question.</div>'
        body = "".join(
            _passage(f"panel-c{i}", [], s.chunk, "", True) for i, s in enumerate(items)
        )
        return f'<div class="dq-panel-head">Closest passages (no answer given)</div>{body}'
    groups = _groups(answer)
    body = "".join(
        _passage(f"panel-p{numbers[0]}", numbers, chunk, quote, True)
        for numbers, chunk, quote in groups
    )
    return f'<div class="dq-panel-head">Passages cited by the last answer</div>{body}'


def indexed_summary(items: list[SourceInfo], shown: int = 8) -> str:
    """One line above the chat: how many documents are indexed and which."""
    if not items:
        return ('<div class="dq-known">Nothing is indexed yet. Upload documents in the '
                "Documents tab, or run <code>bot ingest PATH</code>.</div>")
    names = sorted((s.name or Path(s.source).name for s in items), key=str.lower)
    listed = ", ".join(text(n) for n in names[:shown])
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return (f'<div class="dq-known">{plural(len(names), "document")} indexed: '
            f"{listed}{more}</div>")


def plural(n: int, noun: str) -> str:
    """``1 document``, ``2 documents``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def documents_table(items: list[SourceInfo], uploads_dir: Path | None = None) -> str:
    """The indexed documents with their passage counts."""
    if not items:
        return ('<div class="dq-panel-empty">No documents are indexed yet. Upload some, or run '
                "<code>bot ingest PATH</code>.</div>")
    rows = "".join(
        f"<tr><td>{text(s.name or Path(s.source).name)}</td>"
        f'<td class="dq-num">{s.chunks}</td></tr>'
        for s in sorted(items, key=lambda s: (s.name or Path(s.source).name).lower())
    )
    total = sum(s.chunks for s in items)
    return (
        '<table class="dq-docs"><thead><tr><th>Document</th><th class="dq-num">Chunks</th>'
        f"</tr></thead><tbody>{rows}</tbody><tfoot><tr><td>{plural(len(items), 'document')}</td>"
        f'<td class="dq-num">{total}</td></tr></tfoot></table>'
    )


def status(lines: list[tuple[str, str]]) -> str:
    """A list of (kind, message) lines; kind is ok, warn or error."""
    return "".join(f'<div class="dq-status dq-s-{kind}">{text(msg)}</div>' for kind, msg in lines)


def upload_progress(names: list[str], finished: set[str], current: str,
                    before: list[tuple[str, str]]) -> str:
    """One line per uploaded file while a batch is indexed: done, indexing or waiting,
    under the lines of the files refused at the door (``before``)."""
    states = ["done" if name in finished else "indexing…" if name == current else "waiting"
              for name in names]
    return status(before + [(state.rstrip("…"), f"{name}: {state}")
                            for name, state in zip(names, states, strict=True)])


def indexing_note(done: int, total: int) -> str:
    """The line above the chat while uploads are indexed: answers meanwhile come from the
    documents already indexed."""
    return (f'<div class="dq-known dq-busy">Indexing {plural(total, "uploaded file")} '
            f"({done} done)… until it finishes, answers come from the documents indexed "
            "before.</div>")


# Blank lines stand in for markup a reader never sees (a Markdown file's HTML table keeps the
# lines of its tags, so later line numbers stay the file's); on the page one gap is enough.
_BLANK_RUN = re.compile(r"\n(?:[ \t]*\n){2,}")


def _shown(text: str) -> str:
    return escape(_BLANK_RUN.sub("\n\n", text))


def document_page(doc: Opened) -> str:
    """A whole page showing a document's text as the loaders read it, escaped, with the
    cited passage marked and named ``#passage`` so the link scrolls to it."""
    title = doc.title if doc.title and doc.title != Path(doc.name).stem else doc.name
    place = f"cited passage: {doc.cited.location}" if doc.cited and doc.cited.location else ""
    where = " · ".join(p for p in (doc.name if title != doc.name else "", place) if p)
    note = f'<p class="note">{escape(doc.note)}</p>' if doc.note else ""
    if doc.end > doc.start:
        body = (_shown(doc.text[:doc.start]) + '<mark id="passage" class="dq-cited">'
                + _shown(doc.text[doc.start:doc.end]) + "</mark>" + _shown(doc.text[doc.end:]))
    else:
        body = _shown(doc.text)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(doc.name)}</title><style>{DOCUMENT_CSS}</style></head><body>"
        f'<header><h1>{escape(title)}</h1><p class="where">{escape(where)}</p>'
        f'{note}</header><main class="doc">{body}</main></body></html>'
    )


DOCUMENT_CSS = """
:root { color-scheme: light dark; }
body { font: 16px/1.55 system-ui, sans-serif; max-width: 50rem; margin: 0 auto;
  padding: 1.5rem; }
/* Kept in sight while the page scrolls to the passage: it says which document this is. */
header { position: sticky; top: 0; background: Canvas; border-bottom: 1px solid #8884;
  margin-bottom: 1rem; padding-top: .5rem; }
h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
.where { opacity: .7; margin: 0 0 .6rem; font-size: .9rem; }
.note { border-left: 4px solid #b45309; padding: .3rem .6rem; font-size: .9rem; }
.doc { white-space: pre-wrap; overflow-wrap: anywhere; }
mark.dq-cited { background: #fde68a; color: inherit; padding: .1em 0;
  box-shadow: 0 0 0 2px #f59e0b; border-radius: 2px; scroll-margin-top: 30vh; }
@media (prefers-color-scheme: dark) { mark.dq-cited { background: #854d0e; } }
"""


CSS = """
.dq-pending { color: var(--body-text-color-subdued); font-style: italic; }
.dq-streaming { font-style: normal; }
.dq-error { border-left: 4px solid #d33; background: rgba(221, 51, 51, .08);
  padding: .5em .75em; border-radius: 4px; }
.dq-refusal { border: 1px dashed #b7791f; background: rgba(183, 121, 31, .08);
  padding: .6em .8em; border-radius: 6px; }
.dq-refusal-head { font-weight: 600; color: #975a16; }
.dark .dq-refusal-head { color: #f6ad55; }
.dq-refusal-sub { font-size: .9em; opacity: .8; margin: .2em 0 .4em; }
.dq-closest-head, .dq-cites-head, .dq-panel-head { font-size: .8em; text-transform: uppercase;
  letter-spacing: .04em; opacity: .7; margin: .6em 0 .3em; }
.dq-note { font-size: .85em; opacity: .8; margin-top: .4em; }
/* drawn with CSS, not a glyph: the circled-i character is missing from many system fonts */
.dq-note-mark { display: inline-block; width: 1.1em; height: 1.1em; line-height: 1.1em;
  border: 1px solid currentColor; border-radius: 50%; text-align: center; font-size: .85em;
  font-style: normal; font-weight: 600; }
.dq-rewrite { font-size: .8em; opacity: .65; margin-top: .3em; font-style: italic; }
a.dq-cite { text-decoration: none; font-weight: 600; font-size: .85em; padding: 0 .15em;
  border-radius: 3px; background: rgba(59, 130, 246, .12); cursor: pointer; }
a.dq-cite:hover { background: rgba(59, 130, 246, .3); }
details.dq-passage { border: 1px solid var(--border-color-primary); border-radius: 6px;
  margin: .3em 0; padding: .2em .6em; background: var(--background-fill-secondary); }
details.dq-passage summary { cursor: pointer; font-size: .85em; }
a.dq-open { font-size: .9em; margin-left: .3em; white-space: nowrap; }
details.dq-passage.dq-flash { box-shadow: 0 0 0 3px rgba(59, 130, 246, .5); }
.dq-n { font-weight: 700; }
.dq-file { font-weight: 600; }
.dq-loc { opacity: .7; }
.dq-ptext { font-size: .9em; line-height: 1.45; margin: .4em 0; white-space: normal; }
mark.dq-support { background: #fde68a; color: inherit; padding: 0 .1em; border-radius: 2px; }
.dark mark.dq-support { background: #854d0e; }
.dq-panel-empty { opacity: .7; font-size: .9em; padding: .5em 0; }
table.dq-docs { width: 100%; font-size: .9em; border-collapse: collapse; }
table.dq-docs td, table.dq-docs th { padding: .25em .4em; border: none;
  border-bottom: 1px solid var(--border-color-primary); text-align: left; }
table.dq-docs .dq-num { text-align: right; }
table.dq-docs tfoot td { font-weight: 600; }
.dq-status { font-size: .9em; margin: .15em 0; }
.dq-s-ok { color: #15803d; }
.dq-s-warn { color: #b45309; }
.dq-s-error { color: #dc2626; }
.dq-s-indexing { font-weight: 600; }
.dq-s-waiting { opacity: .7; }
.dq-busy { font-style: italic; }
#dq-sources { max-height: 70vh; overflow-y: auto; }
#dq-upload-status { min-height: 4em; }
footer { display: none !important; }
"""

# A click on an [n] marker opens its passage in the same message and scrolls to it.
JS = """
() => {
  document.addEventListener('click', (event) => {
    const link = event.target.closest ? event.target.closest('a.dq-cite') : null;
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const id = decodeURIComponent((link.getAttribute('href') || '').slice(1));
    const scope = link.closest('.dq-answer') || document;
    const target = scope.querySelector('[id="' + CSS.escape(id) + '"]');
    if (!target) return;
    target.open = true;
    target.scrollIntoView({block: 'nearest', behavior: 'smooth'});
    target.classList.add('dq-flash');
    setTimeout(() => target.classList.remove('dq-flash'), 1600);
  }, true);
}
"""
