"""Question hygiene: clean the text, bound its size, and spot attempts to steer the bot."""

from __future__ import annotations

import re
import unicodedata

_STEERING = re.compile(
    r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(instruction|instructions|rules|"
    r"prompt|guidelines|documents|context|sources)\b"
    r"|\b(system prompt|developer mode|jailbreak|DAN mode)\b"
    r"|\byou are (now|no longer)\b"
    r"|\b(pretend|act as if|roleplay as|role-play as)\b"
    r"|\bfrom now on\b.{0,40}\b(answer|respond|reply|say)\b"
    r"|\b(reveal|print|show|repeat)\b.{0,30}\b(your|the) (instructions|prompt|system)\b"
    r"|\b(without|don't use|do not use|not using)\b.{0,20}\b(the )?(documents|sources|context)\b"
    r"|\buse your (own )?(general )?knowledge\b",
    re.IGNORECASE | re.DOTALL,
)

# Narrower than _STEERING: phrasing aimed at a model reading the text, rare in real prose
# ("pretend" or "from now on" are common in documents, so they are not here).
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,30}\b(previous|prior|above|earlier|all|any|"
    r"your|system)\b.{0,20}\b(instructions|prompts?|rules|guidelines)\b"
    r"|\b(system|developer) prompt\b"
    r"|\byou are now\b"
    r"|\b(new|updated) instructions for (the )?(ai|assistant|model|chatbot|bot)\b",
    re.IGNORECASE | re.DOTALL,
)


class QuestionError(ValueError):
    """A question the bot cannot take; the message is meant for the user."""


def clean_question(question: str, max_chars: int) -> str:
    """Strip control and bidirectional-override characters and fold whitespace.

    Raises :class:`QuestionError` for an empty or over-long question.
    """
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    kept = "".join(
        " " if ch in "\t\n\r" else ch
        for ch in question
        if ch in "\t\n\r" or unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Cn"}
    )
    text = " ".join(kept.split())
    if not text:
        raise QuestionError("the question is empty")
    if len(text) > max_chars:
        raise QuestionError(
            f"the question is {len(text):,} characters long; the limit is {max_chars:,} "
            "(setting BOT_MAX_QUESTION_CHARS)"
        )
    return text


def is_steering(question: str) -> bool:
    """True when the question tries to change the bot's rules instead of asking the documents."""
    return bool(_STEERING.search(question))


def addresses_the_bot(passage: str) -> bool:
    """True when a document passage holds instructions aimed at the model that reads it."""
    return bool(_INJECTION.search(passage))
