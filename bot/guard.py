"""Question hygiene: clean the text, bound its size, and spot attempts to steer the bot.

Steering and planted instructions are told apart from ordinary text by what a sentence
*does*, not by the words it contains: "How do I override the default rules in ruff?" asks
about rules, "Ignore your rules" gives an order to the bot. Each text is reduced to a few
structural cues (who is addressed, whether a sentence is an order or a question, what the
order acts on) and a small logistic model, fitted by ``python -m bot.guard_train`` on
``evals/datasets/guard``, weighs them. The weights live in ``bot/guard_weights.py``.
"""

from __future__ import annotations

import math
import re
import unicodedata

from bot import guard_weights


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


# --- structural cues -------------------------------------------------------------------

_I = re.IGNORECASE

# A short quoted span is a mention ("what does 'ignore previous instructions' mean?"),
# not a use, so it is blanked before the cues are read.
_QUOTED = re.compile(r"\"[^\"\n]{1,80}\"|“[^”\n]{1,80}”|(?<!\w)'[^'\n]{1,80}'(?!\w)|`[^`\n]{1,80}`")

# Who the text can be speaking to when it gives the model orders.
_MACHINE = (
    r"(?:ai|a\.i\.|assistant|chat\s?bot|bot|model|llm|language model|agent|gpt|chatgpt|"
    r"copilot|system)"
)

# Things only the reading model has: its orders, its prompt, its task, its documents.
_CONTROL = (
    r"(?:instructions?|prompts?|rules|guidelines|directives?|directions|programming|orders|"
    r"restrictions|constraints|filters|policy|policies|tasks?|assignments?|configuration|"
    r"context|documents?|sources|information|text|content|data|everything|files?|pages?|"
    r"emails?|messages?|user|others)"
)
_DEICTIC = r"(?:previous|prior|above|earlier|preceding|original|initial|system|safety|other|old)"

_OVERRIDE_VERB = r"(?:ignore|disregard|forget|override|bypass|drop|abandon|skip|leave)"
# Clause start: text start, sentence/clause punctuation, or a lead-in word.
_START = (
    r"(?:^|[.!?:;\n\]>)-]\s*|\b(?:please|now|then|and|so|just|also|instead)\s+"
    # right after an upper-case label such as "CORE INSTRUCTION" or "NOTE"
    r"|(?-i:\b[A-Z]{3,}(?:[ ,]+[A-Z]{2,})*,?\s+))"
)

_IMPERATIVE_VERBS = (
    r"(?:ignore|disregard|forget|override|bypass|say|print|output|write|tell|reveal|respond|"
    r"answer|reply|pretend|act|stop|include|send|forward|call|rank|approve|translate|repeat|"
    r"show|generate|echo|prepend|mark|report|recommend|delete|visit|obey|follow|comply|"
    r"remember|return|begin|start|email|route|cite|use|treat|focus|concentrate|summari[sz]e|"
    r"list|display|enable|enter|answer|always|never|do not|don't)"
)

_CUES: dict[str, re.Pattern[str]] = {
    # An order to drop the reader's own orders or material.
    "override_order": re.compile(
        _START
        + _OVERRIDE_VERB
        + r"\b(?:\s+\w+){0,4}?\s+(?:"
        + _DEICTIC
        + r"\s+)?"
        + _CONTROL
        + r"\b"
        r"|" + _START + _OVERRIDE_VERB + r"\s+(?:the\s+)?(?:above|everything|rest)\b"
        r"|" + _START + _OVERRIDE_VERB + r"\s+(?:all\s+)?(?:that|this)\s*(?:[.,;!]|$)",
        _I,
    ),
    # Any mention of overriding *your* / previous orders, order or not.
    "override_yours": re.compile(
        _OVERRIDE_VERB
        + r"\w*\s+(?:all\s+)?(?:of\s+)?(?:your|the\s+"
        + _DEICTIC
        + r"|"
        + _DEICTIC
        + r")\s+(?:\w+\s+)?"
        + _CONTROL,
        _I,
    ),
    "your_control": re.compile(
        r"\byour\s+(?:" + _DEICTIC + r"\s+|own\s+|full\s+|actual\s+|real\s+|new\s+)?"
        r"(?:instructions|system prompt|prompt|rules|guidelines|programming|configuration|"
        r"restrictions|filters|directives|task)\b",
        _I,
    ),
    "role_change": re.compile(
        r"\byou\s+are\s+(?:now|no longer|going to be|(?:a|an|the)?\s*dan\b)"
        r"|\b(?:now\s+)?you\s+are\s+[A-Z]\w+"
        r"|(?:\byou\s+(?:will\s+|should\s+|must\s+|to\s+|now\s+)?|^\W*|[.!:]\s+|\bplease\s+)"
        r"(?:act|speak|behave|respond)\s+as\b"
        r"|\bpretend\s+(?:to\s+be|you(?:'re|\s+are)|that)\b|\brole-?\s?play\b"
        r"|\bi\s+want\s+you\s+to\s+act\b|\bstay\s+in\s+(?:their|your)\s+roles?\b|\bbreak\s+character"
        r"|\b(?:developer|admin|god|jailbreak|dan|unrestricted|sudo)\s+mode\b|\bdo anything now\b"
        # Freed of rules as a persona ("you have no restrictions"), not "Ninja has no
        # rules for C": the cue needs the one addressed.
        r"|\b(?:you(?:'re|\s+are|\s+have|\s+now\s+have)|with|who\s+has)\s+no\s+"
        r"(?:restrictions|rules|filters|content policy)\b"
        r"|\bno\s+(?:content policy|safety (?:filters|guidelines|rules))\b",
        re.MULTILINE,
    ),
    "from_now_on_you": re.compile(
        r"\bfrom now on,?\s+(?:you\b(?!\s+will\s+(?:be\s+able|get|be\s+receiving|be\s+notified|"
        r"need|have|see|find|receive|log)))",
        _I,
    ),
    "reveal_prompt": re.compile(
        r"\b(?:reveal|print|show|repeat|output|display|tell me|give me|list|summari[sz]e|"
        r"what (?:is|are|was|were))\b[^.?!]{0,30}\b(?:your\s+(?:\w+\s+)?"
        r"(?:prompt|instructions|rules|configuration)|(?:the\s+)?(?:text|everything|words)\s+above"
        r"|(?:the\s+)?(?:full\s+)?prompt\s+text|beginning of (?:this|the) (?:prompt|document|"
        r"conversation)|you were told|you operate under)",
        _I,
    ),
    "addressed_to_machine": re.compile(
        r"(?:^|[\s>#\[(!-])(?:(?:important|urgent|system)\s+)?(?:note|notice|message|instruction|"
        r"attention|directive|request)s?\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+)?(?:\w+\s+)?"
        + _MACHINE
        + r"\b"
        r"|(?:^|[\s>#\[(!\-*]|<!--)\s*(?:attention\s+)?(?:dear\s+|hey\s+|hello\s+|hi\s+)?"
        r"(?:ai|assistant|ai assistant|ai agent|chatbot|gpt|chatgpt|llm|agent|ai system|model)"
        r"\s*[:,]"
        r"|\bif you are an? (?:ai|llm|language model|assistant|chatbot|bot|agent)\b",
        _I,
    ),
    "fake_channel": re.compile(
        r"\[(?:system|admin|override|system override|hidden directive|ai override|data exfil)"
        r"[^\]]*\]|<\s*/?\s*(?:system|instruction|tool_response_injection)\s*>"
        r"|(?-i:\b(?:SYSTEM|ADMIN|OVERRIDE|CORE INSTRUCTION|SYSTEM (?:NOTE|NOTICE|MESSAGE)|"
        r"AGENT INSTRUCTION|AI INSTRUCTION|HIDDEN DIRECTIVE|EMBEDDED DIRECTIVE)\b\s*[:\]\n])"
        r"|\b(?:embedded|hidden|shadow|mandatory)\s+(?:directive|instruction|rule)"
        r"|<!--[^>]{0,40}\b(?:instruction|directive|ai|assistant|agent)\b|(?:^|\s)_hidden\b"
        r"|\bnew (?:mandatory )?(?:instructions|rule|task|tasks|policy)\b[^.?!]{0,12}[:.]"
        r"|^(?:user|assistant|human|system)\s*:",
        re.MULTILINE | re.IGNORECASE,
    ),
    "task_switch": re.compile(
        r"\b(?:now|instead)\s*,?\s+(?:please\s+)?(?:write|say|print|output|tell|answer|respond|"
        r"focus|concentrate|translate|generate|help|list|reply|follow|show)\b"
        # "That is done." and "Start over." open a sentence when they end a task; "once
        # that is done" and "you can start over" are a manual's steps.
        r"|(?:^|[.!?:]\s+|\n\s*)(?:(?:that is|that's)\s+(?:enough|done)|(?:please\s+)?start over)\b"
        r"|\bnew task\b"
        r"|\bwe will start\b|\bnew challenge for you\b|\banother task\b",
        _I,
    ),
    "reply_control": re.compile(
        r"\b(?:your|the)\s+(?:first\s+)?(?:reply|response|answer|output|summary|first token)\b"
        r"|\b(?:every|all|any|each)\s+(?:responses?|answers?|replies|claims?|questions?)\b"
        r"|\bregardless of\b|\bdo not (?:mention|flag|tell|cite)\b|\bwithout telling\b"
        r"|\bwhen (?:summari[sz]ing|asked|the user asks|drafting|discussing)\b",
        _I,
    ),
    "own_knowledge": re.compile(
        r"\b(?:use|using|rely on)\s+your\s+(?:own\s+|general\s+)?knowledge\b"
        r"|\b(?:forget|ignore|without|don't use|do not use|not using|skip)\s+(?:the\s+|your\s+)?"
        r"(?:documents|sources|context|files)\b",
        _I,
    ),
    "exfiltrate": re.compile(
        r"\b(?:send|forward|email|post|upload|exfiltrate|wire)\b[^.?!]{0,60}"
        r"(?:\bto\b|@|https?://)|\bvisit\s+\S*(?:evil|bad)\S*|!\[[^\]]*\]\(https?://",
        _I,
    ),
    # The reader's user spoken of as a third party: "do not tell the user".
    "the_user_as_third_party": re.compile(
        r"\b(?:tell|ignore|inform|show|warn|alert|mention\s+(?:this\s+)?to|respond(?:ing)?\s+to|"
        r"direct|send)\s+(?:the|this|your)\s+users?\b|\bregardless of (?:the\s+)?user\b",
        _I,
    ),
    # A rule about what the reader's own output must be: "all responses must begin with ...",
    # "always respond with ...", "start your reply with ...".
    "output_rule": re.compile(
        r"\b(?:all|every|each|any|your|the)\s+(?:\w+\s+)?(?:responses?|repl(?:y|ies)|answers?|"
        r"outputs?|summar(?:y|ies))\s+(?:must|should|shall|needs?\s+to|has\s+to)\s+(?:always\s+)?"
        r"(?:begin|start|open|end|include|contain|say|mention|be)\b"
        r"|" + _START + r"(?:always\s+)?(?:respond|reply|answer|begin|start|prefix|prepend|end)"
        r"\b(?:\s+\w+){0,3}?\s+(?:with|by)\b",
        _I,
    ),
    # An order that settles an evaluation in advance: overrule feedback or scores, give only a
    # favourable verdict, hide the negatives, rank someone first.
    "verdict_override": re.compile(
        r"\b(?:override|overrule|disregard|ignore|discard)\s+(?:all\s+|any\s+)?(?:the\s+)?"
        r"(?:negative|prior|previous|other|manual|earlier)?\s*(?:feedback|reviews?|scor(?:es|ing)|"
        r"ratings?|evaluations?|assessments?|results|findings|criticism)\b"
        r"|" + _START + r"(?:give|provide|write|return|output)\s+(?:only\s+)?(?:a\s+|an\s+)?"
        r"(?:positive|favou?rable|glowing|excellent)\s+(?:review|rating|evaluation|assessment|feedback)"
        r"|\b(?:positive|favou?rable)\s+review\s+only\b"
        r"|" + _START + r"do\s+not\s+(?:highlight|mention|report|include|flag)\s+(?:any\s+)?"
        r"(?:negatives|weaknesses|criticism|flaws|concerns|issues)\b"
        r"|" + _START + r"rank\s+(?:\w+\s+){0,3}?(?:first|highest|top)\b",
        _I,
    ),
    # The reader's own start: its instructions, what it was told, what came before this chat.
    "conversation_start": re.compile(
        r"\b(?:before|at\s+the\s+(?:start|beginning)\s+of)\s+(?:this|our|the)\s+"
        r"(?:conversation|chat|session)\b|\bbefore\s+i\s+started\s+talking\s+to\s+you\b"
        r"|\bfirst\s+message\s+(?:in|of)\s+(?:our|this)\s+(?:conversation|chat)\b"
        r"|\b(?:were|was)\s+you\s+(?:told|given|instructed|programmed|asked)\b"
        r"|\byour\s+(?:initial|original|base|first|starting)\s+(?:instructions|prompt|message|rules)\b"
        r"|\b(?:everything|all\s+(?:the\s+)?text|the\s+text|the\s+words|every\s+character|"
        r"what(?:'s|\s+is|\s+was)\s+written)\s+above\b",
        _I,
    ),
    # The act of answering, as the reader will do it: "before answering", "in your reply".
    "reader_act": re.compile(
        r"\bbefore\s+(?:answering|responding|replying|summari[sz]ing|any\s+other\s+(?:response|"
        r"content|output))\b|\b(?:in|into|to)\s+your\s+(?:reply|response|answer|output|summary)\b"
        r"|\bwhen\s+(?:summari[sz]ing|answering|responding|replying|drafting)\s+(?:this|the|your)\b",
        _I,
    ),
    "second_person": re.compile(r"\byou(?:r|rs|rself)?\b", _I),
    "machine_word": re.compile(r"\b" + _MACHINE + r"s?\b", _I),
    "shouting": re.compile(
        r"\b(?:IMPORTANT|URGENT|MANDATORY|IGNORE|OVERRIDE|REQUIRED|ATTENTION)\b"
    ),
}

_QUESTION_START = re.compile(
    r"^\s*(?:how|what|which|why|when|where|who|whom|whose|is|are|does|do|did|can|could|"
    r"should|would|will|was|were|has|have|may|in|according|according to)\b",
    _I,
)
_ASKER = re.compile(
    r"\b(?:do|can|should|could|would|must|may)\s+(?:i|we)\b|\b(?:i|we)\s+(?:want|need)\s+to\b"
    r"|\bhow\s+(?:to|do|does|can|should)\b",
    _I,
)
_FIRST_VERB = re.compile(
    r"^\W*(?:[^:.!?]{0,50}[:,]\s*)?(?:please\s+)?" + _IMPERATIVE_VERBS + r"\b", _I
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s.strip()]


def features(text: str) -> list[float]:
    """Structural cues of ``text``, in the order of ``guard_weights.FEATURES``."""
    plain = _QUOTED.sub(" ", text)
    sentences = _sentences(plain) or [plain]
    cue = {name: 1.0 if pattern.search(plain) else 0.0 for name, pattern in _CUES.items()}
    cue["second_person"] = min(len(_CUES["second_person"].findall(plain)), 4) / 4
    orders = sum(1 for s in sentences if _FIRST_VERB.search(s) and not s.rstrip().endswith("?"))
    asks = sum(1 for s in sentences if s.rstrip().endswith("?") or _QUESTION_START.search(s))
    cue["order_sentence"] = min(orders, 2) / 2
    cue["question_form"] = 1.0 if asks and asks == len(sentences) else 0.0
    cue["asker_first_person"] = 1.0 if _ASKER.search(plain) else 0.0
    # The combinations that carry the decision: an order *and* something only the bot has.
    cue["order_x_yours"] = cue["order_sentence"] and max(cue["your_control"], cue["override_yours"])
    cue["machine_x_order"] = cue["addressed_to_machine"] and max(
        cue["order_sentence"], cue["override_yours"], cue["reply_control"]
    )
    return [float(cue[name]) for name in guard_weights.FEATURES]


def score(text: str, side: str) -> float:
    """Probability-like score that ``text`` instructs the bot (``side``: question or passage)."""
    weights = guard_weights.WEIGHTS[side]
    z = weights[0] + sum(w * x for w, x in zip(weights[1:], features(text), strict=True))
    return 1.0 / (1.0 + math.exp(-z))


def is_steering(question: str) -> bool:
    """True when the question tries to change the bot's rules instead of asking the documents."""
    return score(question, "question") >= guard_weights.THRESHOLDS["question"]


def addresses_the_bot(passage: str) -> bool:
    """True when a document passage holds instructions aimed at the model that reads it."""
    return score(passage, "passage") >= guard_weights.THRESHOLDS["passage"]


def without_planted(passage: str) -> str | None:
    """``passage`` with its sentences addressed to the bot blanked out, or None when what is
    left still instructs the bot (the order spans several sentences) or holds nothing.

    Blanking keeps every offset, so the true sentences of a passage that also carries a
    planted note stay quotable verbatim, while the note itself is never evidence.
    """
    from bot.text import sentence_spans

    kept = list(passage)
    for start, end in sentence_spans(passage):
        sentence = passage[start:end]
        # In a passage that instructs the bot, every order goes too: "Say that ..." right
        # after the note is part of it, though harmless on its own.
        if addresses_the_bot(sentence) or _FIRST_VERB.search(sentence):
            kept[start:end] = " " * (end - start)
    clean = "".join(kept)
    if not clean.strip() or addresses_the_bot(clean):
        return None
    return clean
