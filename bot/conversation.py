"""Follow-up questions rewritten into standalone ones before retrieval.

The deterministic rewrite replaces pronouns with the topic of the conversation and expands
elliptical turns ("What about Babbage?") from the previous question. An LLM rewrite, when one is
configured, is in :mod:`bot.llm`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from bot import citations as markers
from bot.text import (
    STOPWORDS,
    asked_head,
    entities,
    names,
    noun_phrases,
    preposition_of,
    prepositional_phrases,
)

Turn = Mapping[str, Any]

_SUBJECT = {"he", "she", "they"}
_OBJECT = {"him", "them"}
_POSSESSIVE = {"his", "their", "its", "hers"}
_NEUTER = {"it"}
_PERSONAL = {"he", "she", "him", "her", "his", "hers"}
_WHO = re.compile(r"^\W*(?:and\s+)?who\b", re.IGNORECASE)
_PLURAL = {"they", "them", "their"}
_PRONOUN = re.compile(r"\b(he|she|they|him|them|his|their|its|hers|her|it)\b", re.IGNORECASE)
_ELLIPSIS = re.compile(
    r"^\s*(?:and|what about|how about|and what about|same for|what of)\s+(?P<x>.+?)\s*[?.!]*\s*$",
    re.IGNORECASE,
)
_TOPIC = re.compile(
    r"\b(?:who|what)\s+(?:is|was|are|were)\s+(?P<x>.+?)\s*[?.!]*\s*$"
    r"|\b(?:tell me|talk|know|learn)\s+(?:more\s+)?about\s+(?P<y>.+?)\s*[?.!]*\s*$"
    r"|\b(?:what|how)\s+(?:does|do|did)\s+(?P<z>.+?)\s+(?:do|mean|return|work|contain|"
    r"support|handle|use)\b",
    re.IGNORECASE,
)
# "that variable", "this port": a thing the conversation named, singular.
_DEMONSTRATIVE = re.compile(r"\b(that|this)\s+([a-z][a-z-]*[a-z])\b", re.IGNORECASE)
# What opens a noun phrase without naming anything: articles, demonstratives, possessives,
# question words.
_DETERMINERS = {"the", "a", "an", "this", "that", "its", "his", "her", "their", "our",
                "your", "my", "which", "what", "whose"}
_WHICH = re.compile(r"^\W*(?:and\s+)?(?:which|what)\s+(?!(?:is|are|was|were|does|do|did)\b)",
                    re.IGNORECASE)
_QUESTION_WORDS = {"what", "who", "which", "whom", "whose", "where", "when", "how", "why"}
_AUXILIARIES = ("is|are|was|were|does|do|did|can|could|will|would|should|shall|has|have|had|"
                "must|may|might")
# The phrase naming what a question asks for: "Ninja version" of "Since which Ninja version
# is the cleandead tool available?". What it names is asked for, not talked about.
_ASKED = re.compile(
    rf"\b(?:which|what|how many|how much)\s+(?!(?:{_AUXILIARIES})\b)(?P<x>.+?)"
    rf"\s+(?:{_AUXILIARIES})\b",
    re.IGNORECASE,
)
_SPEAKERS = {"i", "me", "you", "we", "us", "one"}
# What a name runs on into without a space: "OS" of "OS/390" is no name of its own.
_COMPOUND = r"[\w/+-]*"
# A command-line option ("-s", "--crate-name"): what an elliptical follow-up may ask about.
_FLAG = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")
# Code identifiers a question may be about: snake_case, camelCase, dotted or called names.
_IDENTIFIER = re.compile(
    r"`([^`]+)`|(?<![\w.-])((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:\(\))?)(?![\w-])"
)


def _content(turn: Turn | Sequence[str]) -> tuple[str, str]:
    if isinstance(turn, Mapping):
        return str(turn.get("role", "")), str(turn.get("content", ""))
    role, content = turn[0], turn[1]
    return str(role), str(content)


def user_turns(history: Sequence[Turn]) -> list[str]:
    """The user's earlier questions, oldest first."""
    return [c for r, c in map(_content, history) if r == "user" and c.strip()]


def _identifiers(text: str) -> list[str]:
    found = []
    for match in _IDENTIFIER.finditer(text):
        ident = match.group(1) or match.group(2)
        quoted = match.group(1) is not None
        if quoted or "_" in ident or ident.endswith("()") or "." in ident or re.search(
            r"[a-z][A-Z]", ident
        ):
            found.append(ident)
    return found


def topic_of(question: str) -> str | None:
    """The entity a question is about: its first code identifier or proper name (always
    whole, never a piece of an identifier), else its "who is X" object. The first, since
    a question names its subject before what it says of it ("What does deflate() return
    with Z_FINISH?", "Which option makes GCC 12 emit CTF?")."""
    named = _identifiers(question) or names(question)
    if named:
        return _whole(named[0], question)
    match = _TOPIC.search(question)
    if match:
        topic = (match.group("x") or match.group("y") or match.group("z") or "").strip()
        spans = noun_phrases(topic)
        # Cut what trails the last noun phrase ("the x-content type for").
        return topic[spans[0][0]:spans[-1][1]] if spans else topic or None
    return None


def _whole(name: str, text: str) -> str:
    """``name`` with what it runs on into in ``text`` ("OS" in "MVS or OS/390" gives
    "OS/390")."""
    match = re.search(rf"{_COMPOUND}{re.escape(name)}{_COMPOUND}", text)
    return match.group(0).strip("/+-") if match else name


def _referent(question: str, plural: bool = False, said: str = "") -> str | None:
    """What a pronoun of the next question stands for: the topic of ``question``, else its
    first noun phrase that is more than a pronoun and asks nothing ("a decoder"). A plural
    pronoun ("they") stands first for a plural noun phrase ("pools" of "What are pools in
    Ninja?"), else for the same as a singular one (a company, a project)."""
    if plural:
        found = _first_phrase(question, plural=True, said=said)
        if found:
            return found
    topic = topic_of(question)
    if topic:
        return topic
    return _first_phrase(question, said=said)


def _first_phrase(question: str, plural: bool = False, said: str = "") -> str | None:
    """The first noun phrase of ``question`` a pronoun can stand for; none that the
    follow-up ``said`` itself repeats ("a file" in "How do I decompress a file with it?"
    after "How do I compress a file with a dictionary?": "it" is the dictionary)."""
    repeated = {w.lower() for w in re.findall(r"\w+", said)}
    for start, end in noun_phrases(question, plural):
        phrase = question[start:end]
        words = phrase.lower().split()
        # "I" and "you" are the people talking, never what "it" stands for.
        if all(w in STOPWORDS or w in _SPEAKERS for w in words):
            continue
        if all(w in STOPWORDS or w in repeated for w in re.findall(r"\w+", phrase.lower())):
            continue
        if not _PRONOUN.fullmatch(phrase) and not _QUESTION_WORDS & set(words):
            return phrase
    return None


def _is_noun_phrase(text: str) -> bool:
    """Whether ``text`` is noun phrases alone ("the maximum", "the role of the press"), not
    a clause or a prepositional phrase ("for an internal error", "to make it the default")."""
    text = text.strip().rstrip("?.!").strip()
    # "And what is its limit?" asks a question of its own: a question word opens a clause.
    if not text or text.split()[0].lower() in _QUESTION_WORDS:
        return False
    spans = noun_phrases(text)
    return bool(spans) and spans[0][0] == 0 and spans[-1][1] == len(text)


def condense(question: str, history: Sequence[Turn], depth: int = 0) -> str:
    """Rewrite ``question`` so that it can be understood without ``history``."""
    previous = user_turns(history)
    if not previous or depth > 4:
        return question
    earlier = history[: _index_of_last_user(history)]
    last = condense(previous[-1], earlier, depth + 1)

    elliptic = _ELLIPSIS.match(question)
    if elliptic:
        said = elliptic.group("x").strip()
        filled = _fill_ellipsis(said, last)
        if filled is not None:
            return filled
        if _FLAG.fullmatch(said) or preposition_of(said) or _is_noun_phrase(said):
            return question

    if _names_its_subject(question):
        return question
    reply = _last_answer(history)
    question = _demonstratives(question, [reply, last])
    if not _PRONOUN.search(question):
        return question
    said = {m.lower() for m in _PRONOUN.findall(question)}
    plural = bool(said) and said <= _PLURAL
    subject = None if plural else _answered(last, reply, personal=bool(said & _PERSONAL))
    subject = subject or _referent(last, plural, question)
    if subject is None:
        for turn in reversed(previous[:-1]):
            subject = _referent(turn, plural, question)
            if subject:
                break
    if subject is None:
        return question
    return _substitute(question, subject)


def _fill_ellipsis(said: str, last: str) -> str | None:
    """``last`` with the elliptical ``said`` in place of what it stands in for: an option for
    the option ``last`` named, a prepositional phrase for the one of ``last`` with the same
    preposition (else its last), a noun phrase for what ``last`` is about. None when
    ``said`` is none of these or ``last`` has nothing of the kind."""
    if _FLAG.fullmatch(said):
        old = (_FLAG.findall(last) or [None])[-1]
    elif preposition := preposition_of(said):
        phrases = prepositional_phrases(last)
        same = [p for p in phrases if p[0] == preposition] or list(phrases)
        if not same:
            return None
        _, start, end = same[-1]
        return last[:start] + (said[:1].upper() + said[1:] if start == 0 else said) + last[end:]
    elif _is_noun_phrase(said):
        old = _talked_about(last, said)
    else:
        return None
    if not old or old.lower() not in last.lower():
        return None
    return re.sub(re.escape(old), said, last, count=1, flags=re.IGNORECASE)


def _asked_span(question: str) -> tuple[int, int]:
    match = _ASKED.search(question)
    return (match.start("x"), match.end("x")) if match else (0, 0)


def _talked_about(question: str, said: str = "") -> str | None:
    """What ``question`` is about, which the elliptical ``said`` replaces: its topic, unless
    that lies in the phrase naming what it asks for ("Ninja" of "Since which Ninja version
    is the cleandead tool available?"); then its noun phrase with the head noun of
    ``said`` ("a while loop" for "a for loop"), else its first other noun phrase ("the
    cleandead tool")."""
    start, end = _asked_span(question)
    asked = question[start:end].lower()
    topic = topic_of(question)
    if topic and topic.lower() not in asked:
        return topic
    phrases = []
    for s, e in noun_phrases(question):
        phrase = question[s:e]
        words = phrase.lower().split()
        if (s < end and e > start) or _QUESTION_WORDS & set(words) or _PRONOUN.fullmatch(phrase):
            continue
        if not all(w in STOPWORDS or w in _SPEAKERS for w in words):
            phrases.append(phrase)
    spans = noun_phrases(said)
    head = said[spans[0][0]:spans[0][1]].split()[-1].lower() if spans else ""
    alike = [p for p in phrases if p.split()[-1].lower() == head]
    return next(iter(alike or phrases), topic)


def _names_its_subject(question: str) -> bool:
    """Whether ``question`` names what its pronouns stand for itself: it names something
    before its first pronoun, or has no pronoun. A name inside the phrase of what it asks
    for does not count: "Windows" in "Which Windows API call does it use?" is asked for,
    and "it" is still the earlier subject."""
    named = [*_identifiers(question), *names(question)]
    if not named:
        return False
    pronoun = _PRONOUN.search(question)
    if pronoun is None:
        return True
    start, end = _asked_span(question)
    return any(
        m.start() < pronoun.start() and not start <= m.start() < end
        for name in named for m in re.finditer(re.escape(name), question)
    )


def _last_answer(history: Sequence[Turn]) -> str:
    """The reply after the last user turn, without its citation markers ("" if none)."""
    replies = [c for r, c in map(_content, history[_index_of_last_user(history):])
               if r == "assistant"]
    return markers.strip(replies[-1]).replace("*", "") if replies else ""


def _headed(noun: str, earlier: Sequence[str]) -> str | None:
    """The first noun phrase of ``earlier`` (the first text first) headed by ``noun`` and
    saying more than it ("the deps variable" for "variable"), with "the" for its
    determiner; failing that, the first that names its thing right after the noun ("the
    special variable history"), which could as well be a compound ("the file system")."""
    phrases: list[tuple[list[str], str]] = []
    for text in earlier:
        for start, end in noun_phrases(text) if text else ():
            said = text[start:end].split()
            rest = said[1:] if said[0].lower() in _DETERMINERS else said
            if len(rest) > 1:
                phrases.append(([w.lower() for w in rest], "the " + " ".join(rest)))
    headed = [shown for words, shown in phrases if words[-1] == noun.lower()]
    named = [shown for words, shown in phrases if words[-2] == noun.lower()]
    return next(iter(headed + named), None)


def _demonstratives(question: str, earlier: Sequence[str]) -> str:
    """``question`` with "that variable" (or "this port") made the phrase of the nearest
    earlier text (the last reply first, then the last question) whose head is that same
    noun and which says more than the noun: "the deps variable", "its pid parameter". A
    demonstrative with no such phrase is left as it is."""
    def replace(match: re.Match[str]) -> str:
        return _headed(match.group(2), earlier) or match.group(0)

    return _DEMONSTRATIVE.sub(replace, question)


def _answered(question: str, reply: str, personal: bool = False) -> str | None:
    """What a "which X" question was answered with, when the reply names it as an X ("the
    clean tool" for "Which tool removes built files?"), or for a "who" question and a
    personal pronoun ("he", "her") when it names no person itself, the first person the
    reply names (spaCy's recogniser): a pronoun of the next question stands for the answer, not
    for a phrase of the question."""
    if personal and _WHO.match(question):
        asked, answer = entities([question, reply])
        # "Who is Ada Lovelace?" names its person: "she" is still her.
        if any(label == "PERSON" for label, _ in asked):
            return None
        said = question.lower()
        people = [text for label, text in answer if label == "PERSON"]
        return next((p for p in people if p.lower() not in said), None)
    head = asked_head(question) if _WHICH.match(question) else ""
    return _headed(head.split()[-1], [reply]) if head else None


def context_of(standalone: str, history: Sequence[Turn]) -> str:
    """What a follow-up's search reads besides its standalone question: the previous
    question, itself made standalone. Empty with no history, and for a question that names
    something the previous one did not: it has changed the subject, and searching the old
    one with it would blend the two."""
    previous = user_turns(history)
    if not previous:
        return ""
    last = condense(previous[-1], history[: _index_of_last_user(history)])
    said = last.lower()
    if any(name.lower() not in said for name in [*names(standalone), *_identifiers(standalone)]):
        return ""
    return last


def _index_of_last_user(history: Sequence[Turn]) -> int:
    for i in range(len(history) - 1, -1, -1):
        if _content(history[i])[0] == "user":
            return i
    return 0


def _substitute(question: str, subject: str) -> str:
    tokens = re.split(r"(\W+)", question)
    out = []
    for i, tok in enumerate(tokens):
        low = tok.lower()
        following = next((t for t in tokens[i + 1:] if t.strip() and t.isalnum()), "")
        if low in _SUBJECT or low in _OBJECT or low in _NEUTER:
            out.append(subject)
        elif low in _POSSESSIVE or (low == "her" and following and following.isalpha()
                                    and following.lower() not in STOPWORDS):
            out.append(f"{subject}'s")
        elif low == "her":
            out.append(subject)
        else:
            out.append(tok)
    return "".join(out)
