"""The text layer: sentence splitting on technical prose, and the names and the phrase a
question gives."""

from __future__ import annotations

import pytest

from bot.text import (
    asked_head,
    name_keys,
    name_tokens,
    names,
    sentence_spans,
    split_sentences,
    stem,
)


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


def test_entities_are_those_the_whole_pipeline_finds() -> None:
    # entities() skips the components that only the tagger and parser use; what it finds
    # must not change for that.
    from bot.text import _nlp, entities

    texts = [
        "Yoshihide Suga met Joe Biden in Washington on 16 April 2021.",
        "The University of Chicago was founded in 1890 by John D. Rockefeller.",
        "Version 1.2.11 of zlib was released on January 15, 2017, and costs nothing.",
    ]
    full = [tuple((e.label_, e.text) for e in _nlp()(t).ents) for t in texts]
    assert entities(texts) == full
    assert all(full)


def test_names_are_capitalised_runs_but_not_words_capitalised_for_opening() -> None:
    assert names("Who is Ada Lovelace's tutor?") == ["Ada Lovelace"]
    # A contraction is the word it contracts, not a name the answer must hold.
    assert names("Who's Ada Lovelace?") == ["Ada Lovelace"]
    assert names("I've read the README twice") == ["README"]
    assert names("I'd like the Unicode tables") == ["Unicode"]
    assert names("Did O'Brien's team ship it?") == ["O'Brien"]
    # A name is never a fragment of an identifier; initials stay one name.
    assert names("Which value does zlib.Z_OK have in Python?") == ["Python"]
    assert names("Where did L.A. Reid work in the U.S.?") == ["L.A. Reid", "U.S"]


@pytest.mark.parametrize(
    ("question", "head"),
    [
        ("Which environment variable turns on the debugging messages?", "environment variable"),
        ("How many failing commands does the tool tolerate?", "failing commands"),
        ("What is the numeric value of BZ_MAX_UNUSED?", "numeric value"),
        ("In which byte order are numbers stored?", "byte order"),
        ("what year did the war end", "year"),
        ("When was the treaty signed?", ""),
        ("What does os.loadavg() give on Windows?", ""),
        ("Is there a size cap on journal files?", ""),
    ],
)
def test_the_phrase_a_question_asks_for(question: str, head: str) -> None:
    assert asked_head(question) == head


def test_a_name_is_looked_up_by_its_last_word_and_an_identifier_whole() -> None:
    assert name_keys("When was Ada Lovelace born?") == ["lovelace"]
    # The last word of "SHA256_BLOCK_SIZE" is "size", which a piece about any other size
    # holds too: an identifier stands for itself.
    question = "How many bytes is SHA256_BLOCK_SIZE, and is $SYSTEMD_LOG_LEVEL read?"
    assert name_keys(question) == ["sha256_block_size", "systemd_log_level"]
    assert name_keys(question, full_names=True) == name_keys(question)
    other = name_tokens("SHA512_BLOCK_SIZE The internal block size of SHA512, 128.")
    same = name_tokens("The SHA256_BLOCK_SIZE is 64; see `SYSTEMD_LOG_LEVEL=debug`.")
    keys = [stem(k) for k in name_keys(question)]
    assert not any(k in other for k in keys) and all(k in same for k in keys)
    # Plain words are still there to be found.
    assert {stem("internal"), "block", "size"} <= other
