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


def test_a_wrapped_line_with_trailing_spaces_is_not_a_sentence_end() -> None:
    # Plain-text FAQs often leave a space before each line break.
    text = ("You should try running with --smc-check=all in \nthis case. Valgrind will run "
            "much more slowly, but should detect the use \nof the out-of-date code.\n"
            "- a list item stays apart \n- and so does the next one")
    assert split_sentences(text) == [
        "You should try running with --smc-check=all in \nthis case.",
        "Valgrind will run much more slowly, but should detect the use \nof the out-of-date "
        "code.",
        "- a list item stays apart",
        "- and so does the next one",
    ]
