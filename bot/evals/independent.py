"""An independent groundedness checker for evaluation.

It shares no code and no word lists with the runtime support scorer (``bot/grounding.py``)
or the text layer (``bot/text.py``), so an answer that the runtime scorer let through is
judged again by a different method: its own tokenizer (hyphens and apostrophes split,
number words kept), its own function-word list, prefix stemming instead of Snowball, and a
token-window alignment over the cited text instead of sentence windows. A sentence is
supported when one window of the cited text (all cited passages read as one stream)

- holds every number and name of the sentence,
- has each of them next to a word it is next to in the sentence (a year or a name taken
  from elsewhere in the passage does not count),
- has as many negations as the sentence over the aligned stretch, and
- covers most of the sentence's content words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# Letters (any script) or digits with their decimal and thousands separators.
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+", re.UNICODE)
_NEGATION = re.compile(
    r"\b(?:not|no|never|neither|nor|none|nobody|nothing|without|cannot|unable|unwilling)\b"
    r"|n['’]t\b",
    re.IGNORECASE,
)
# Words that carry no claim of their own. Written for this checker alone.
_FUNCTION = frozenset(
    """
    the a an of in on at to for from by with as into onto about over under between among
    after before during since until upon through across against within along per via and
    or but so yet nor if than then that this these those there here it its is are was were
    be been being am has have had having do does did done will would shall should can could
    may might must he she they them his her hers their theirs him we us our you your i me
    my who whom whose which what when where why how also very just only even still such
    some any each all both more most other another own same s t re ve ll d one's
    """.split()
)
# Capitalised at the start of a sentence without being a name.
_OPENERS = frozenset(
    """
    today currently initially later earlier born formed founded though although however
    meanwhile eventually finally first once under following because while since despite
    some many most several experts key peace messages
    """.split()
)
_NUMBER_WORDS = frozenset(
    """
    two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty
    sixty seventy eighty ninety hundred thousand million billion trillion
    """.split()
)

MIN_RECALL = 0.6
# Tokens of cited text a claim may be spread over: twice its length, and at least this.
WINDOW = 24


@dataclass(frozen=True)
class Verdict:
    """Whether the sentence is supported, with the recall of its content and a reason."""

    supported: bool
    recall: float
    reason: str


@dataclass(frozen=True)
class _Tok:
    text: str  # as written
    low: str  # lower-cased, separators of numbers removed
    start: int
    end: int

    @property
    def key(self) -> str:
        return _stem(self.low)


def tokenize(text: str) -> list[_Tok]:
    """Tokens of ``text``; numbers lose their thousands separators ("2,000" -> "2000")."""
    out = []
    for m in _TOKEN.finditer(text):
        raw = m.group(0)
        low = raw.lower()
        if low[0].isdigit():
            low = re.sub(r",(?=\d{3}\b)", "", low)
        out.append(_Tok(raw, low, m.start(), m.end()))
    return out


def _stem(word: str) -> str:
    """Five-letter prefix stem after a plural/tense ending: 'doubled', 'doubling' -> 'doubl'."""
    if word[0].isdigit():
        return word
    for suffix in ("ies", "ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:5]


def _is_content(tok: _Tok) -> bool:
    return tok.low not in _FUNCTION and not _NEGATION.fullmatch(tok.low)


def _is_anchor(tok: _Tok, first: bool) -> bool:
    """Numbers and names: what the cited text must hold verbatim."""
    if tok.low[0].isdigit() or tok.low in _NUMBER_WORDS:
        return True
    if not tok.text[0].isupper() or tok.low in _FUNCTION or len(tok.low) < 2:
        return False
    return not (first and (tok.low in _OPENERS or tok.low.endswith("ly")))


def check(sentence: str, cited: Sequence[str]) -> Verdict:
    """Judge ``sentence`` against the ``cited`` passages (read in order as one text)."""
    claim = tokenize(sentence)
    content = [t for t in claim if _is_content(t)]
    if not cited or not any(p.strip() for p in cited):
        return Verdict(False, 0.0, "no cited text")
    if not content:
        return Verdict(True, 1.0, "nothing to check")
    joined = " ".join(cited)
    source = tokenize(joined)
    anchors = {i for i, t in enumerate(claim) if _is_anchor(t, i == 0) and _is_content(t)}
    needed = {claim[i].low for i in anchors}
    missing = sorted(needed - {t.low for t in source})
    if missing:
        return Verdict(False, 0.0, f"not in the cited text: {', '.join(missing[:5])}")
    # A sentence that is a run of the cited text, token for token, is stated there.
    said_lows = [t.low for t in claim]
    source_lows = [t.low for t in source]
    if any(source_lows[i:i + len(said_lows)] == said_lows
           for i in range(len(source_lows) - len(said_lows) + 1)):
        return Verdict(True, 1.0, "quoted")
    wanted = {t.key for t in content}
    size = max(WINDOW, 2 * len(claim))
    best: tuple[float, int, int] | None = None
    for start in range(max(1, len(source) - size + 1)):
        window = source[start:start + size]
        lows = {t.low for t in window}
        if not needed <= lows:
            continue
        recall = len(wanted & {t.key for t in window}) / len(wanted)
        if best is None or recall > best[0]:
            best = (recall, start, start + size)
    if best is None:
        return Verdict(False, 0.0, "its numbers and names are not stated together")
    recall, lo, hi = best
    window = source[lo:hi]
    # Negations over the shortest stretch of the window that holds the claim's content
    # words: a negation in a neighbouring clause is not the claim's.
    # A negation the claim adds may sit just outside that stretch in the source ("None
    # succeeded"), so a claim's negation is looked for a few tokens further out.
    lo, hi = _shortest_cover(window, wanted)
    said = len(_NEGATION.findall(sentence))
    inside = len(_NEGATION.findall(joined[window[lo].start:window[hi].end]))
    wide = window[max(0, lo - 3)].start, window[min(len(window) - 1, hi + 3)].end
    around = len(_NEGATION.findall(joined[wide[0]:wide[1]]))
    if said > around or inside > said:
        return Verdict(False, recall, "a negation differs from the cited text")
    if recall < MIN_RECALL:
        return Verdict(False, recall, f"content covered {recall:.2f}")
    return Verdict(True, recall, "supported")



def _shortest_cover(window: Sequence[_Tok], wanted: set[str]) -> tuple[int, int]:
    """First and last index of the shortest run of ``window`` holding every key of
    ``wanted`` that the window holds at all (the whole window when it holds none)."""
    present = wanted & {t.key for t in window}
    if not present:
        return 0, len(window) - 1
    best = (0, len(window) - 1)
    counts: dict[str, int] = {}
    lo = 0
    for hi, tok in enumerate(window):
        if tok.key in present:
            counts[tok.key] = counts.get(tok.key, 0) + 1
        while len(counts) == len(present):
            if hi - lo < best[1] - best[0]:
                best = (lo, hi)
            key = window[lo].key
            if key in counts:
                counts[key] -= 1
                if not counts[key]:
                    del counts[key]
            lo += 1
    return best
