"""The text layer's sentence splitting on technical prose."""

from __future__ import annotations

from bot.text import sentence_spans, split_sentences


def test_a_stop_without_space_after_it_does_not_end_a_sentence() -> None:
    text = ("`os.cpus().length` should not be used to count cores. Use "
            "`os.availableParallelism()` instead. Version 1.2.3 fixed it. See example.com now.")
    assert split_sentences(text) == [
        "`os.cpus().length` should not be used to count cores.",
        "Use `os.availableParallelism()` instead.",
        "Version 1.2.3 fixed it.",
        "See example.com now.",
    ]
    # Every sentence is still cut verbatim from the text.
    assert all(text[s:e] in text and text[s:e].strip() == text[s:e]
               for s, e in sentence_spans(text))


def test_plain_prose_still_splits_at_every_sentence_end() -> None:
    text = "Formed in 1951, the treaty holds. He was born in 1957. Where did he study?"
    assert len(split_sentences(text)) == 3
