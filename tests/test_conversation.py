"""Follow-ups are rewritten into standalone questions without an LLM."""

from __future__ import annotations

from bot.conversation import condense, context_of, topic_of


def _turns(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    out = []
    for question, answer in pairs:
        out += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return out


def test_no_history_leaves_the_question_alone() -> None:
    assert condense("When was he born?", []) == "When was he born?"


def test_pronouns_take_the_previous_subject() -> None:
    history = _turns(("Who is Ada Lovelace?", "A mathematician."))
    assert condense("When was she born?", history) == "When was Ada Lovelace born?"
    assert condense("What was her best known work?", history) == (
        "What was Ada Lovelace's best known work?"
    )


def test_elliptical_follow_up_reuses_the_previous_question() -> None:
    history = _turns(("When was Marie Curie born?", "In 1867."))
    assert condense("What about Pierre Curie?", history) == "When was Pierre Curie born?"


def test_chains_of_follow_ups_resolve_through_earlier_turns() -> None:
    history = _turns(("Who is Ada Lovelace?", "..."), ("Where did she live?", "..."))
    assert condense("When did she die?", history) == "When did Ada Lovelace die?"


def test_a_question_naming_its_own_subject_is_kept() -> None:
    history = _turns(("Who is Ada Lovelace?", "..."))
    question = "Did Charles Babbage work with her?"
    assert condense(question, history) == question


def test_a_pronoun_before_any_name_of_the_question_takes_the_previous_subject() -> None:
    history = _turns(("What does the --theme option do?", "It picks the colours."))
    assert condense("Can it also read a CSS file over HTTP?", history) == (
        "Can the --theme option also read a CSS file over HTTP?")
    # A name inside what the question asks for is not its subject.
    history = _turns(("What does os.hostname() return?", "The host name."))
    assert condense("Which POSIX call does it use?", history) == (
        "Which POSIX call does os.hostname() use?")


def test_topic_of_finds_names_and_possessives() -> None:
    assert topic_of("What did Alan Turing's paper say?") == "Alan Turing"
    assert topic_of("Tell me about the treaty") == "the treaty"


def test_an_elliptical_phrase_takes_the_place_of_its_like_in_the_previous_question() -> None:
    history = _turns(("What does gzip return for a missing file?", "1."))
    assert condense("And for a corrupted archive?", history) == (
        "What does gzip return for a corrupted archive?")
    history = _turns(("With GCC 3.2, how do I hide the pool from the leak report?", "..."))
    assert condense("And with GCC 3.4 or newer?", history) == (
        "With GCC 3.4 or newer, how do I hide the pool from the leak report?")
    # No phrase of the kind to replace: left as asked.
    history = _turns(("Who wrote the first manual?", "Ada."))
    assert condense("And for the second edition?", history) == "And for the second edition?"
    # What the previous question asks for stays; what it is about is replaced.
    history = _turns(("Since which release is the tidy command available?", "1.10."))
    assert condense("And prune?", history) == "Since which release is prune available?"


def test_an_elliptical_clause_is_not_spliced_into_the_previous_question() -> None:
    history = _turns(("How do I install Rust with rustup?", "Run the installer."))
    assert condense("And to keep it up to date?", history) == "And to keep Rust up to date?"


def test_a_topic_ends_with_its_last_noun_phrase() -> None:
    assert topic_of("What is the manifest file for?") == "the manifest file"
    history = _turns(("What is the manifest file for?", "It lists the parts."))
    assert condense("Who reads it?", history) == "Who reads the manifest file?"


def test_a_pronoun_can_stand_for_a_noun_phrase_of_the_previous_question() -> None:
    history = _turns(("Is there a linter for shell scripts?", "Yes."))
    assert condense("Who maintains it?", history) == "Who maintains a linter?"


def test_the_search_context_is_the_previous_question_unless_the_subject_changes() -> None:
    history = _turns(("Who is Ada Lovelace?", "..."), ("Where did she live?", "..."))
    assert context_of("When did Ada Lovelace die?", history) == "Where did Ada Lovelace live?"
    assert context_of("When did Charles Babbage die?", history) == ""
    assert context_of("When did she die?", []) == ""


def test_and_before_a_question_of_its_own_resolves_its_pronoun() -> None:
    history = _turns(("What does the timeout option of the resolver do?", "It sets the wait."))
    assert condense("And what is its unit?", history) == (
        "And what is the timeout option of the resolver's unit?"
    )


def test_a_pronoun_never_stands_for_the_people_talking_or_a_piece_of_a_name() -> None:
    history = _turns(("How do I compress a file with a trained dictionary?", "Use -D."))
    resolved = condense("And how do I decompress a file with it afterwards?", history)
    assert "with I " not in resolved and "with it" not in resolved
    history = _turns(("Has zlib been used on OS/390 mainframes?", "Yes."))
    # A name is taken whole: "OS/390", never its piece "OS".
    assert condense("Where can it be downloaded?", history) == "Where can OS/390 be downloaded?"
    assert topic_of("Is it built for Win32/x64?") == "Win32/x64"


def test_they_stands_for_a_plural_noun_phrase_before_a_singular_name() -> None:
    pools = _turns(("What are pools in Ninja?", "Pools limit parallelism."))
    assert condense("Since which version are they available?", pools) == (
        "Since which version are pools available?")
    # With no plural noun phrase, "they" is the organisation or project named.
    company = _turns(("Who founded Google?", "Larry Page and Sergey Brin."))
    assert condense("When did they go public?", company) == "When did Google go public?"


def test_that_noun_stands_for_the_phrase_of_the_last_reply_with_that_head() -> None:
    history = _turns(("Which setting picks the log folder?",
                      "The log_dir option picks it [1], and **the default** is /var/log [2]."))
    assert condense("Can that option point at a network share?", history) == (
        "Can the log_dir option point at a network share?")
    # A phrase that names its thing right after the noun is one with that head too.
    history = _turns(("Can bc remember the lines I type?",
                      "Yes; the special variable history sets how many lines are kept."))
    assert condense("What is that variable set to by default?", history) == (
        "What is the special variable history set to by default?")
    # It could be a compound ("the file system"): a phrase headed by the noun comes first.
    history = _turns(("Where do settings live?",
                      "On the file system, in the config file under your home [1]."))
    assert condense("Who can write that file?", history) == "Who can write the config file?"
    # The reply names nothing with that head: the question's own phrase is taken.
    history = _turns(("What happens when the upload queue is full?",
                      "New files wait until one finishes."))
    assert condense("How long can that queue get?", history) == (
        "How long can the upload queue get?")
    # Nothing earlier has that head, or only the bare noun: left as asked.
    history = _turns(("Why was the project renamed?", "It was first named Tern."))
    assert condense("Who chose that name?", history) == "Who chose that name?"
    history = _turns(("What is a cache?", "A cache keeps recent blocks."))
    assert condense("Is that cache shared?", history) == "Is that cache shared?"
    # "that" opening a clause is no demonstrative.
    history = _turns(("Which port does the viewer listen on?", "Port 8000."))
    assert condense("Is it true that ports are reused?", history).endswith(
        "that ports are reused?")


def test_a_pronoun_never_stands_for_a_phrase_the_follow_up_repeats() -> None:
    history = _turns(("How do I sign a package with a hardware key?", "Use --key."))
    assert condense("And how do I verify a package with it?", history) == (
        "And how do I verify a package with a hardware key?")


def test_it_after_a_which_question_stands_for_what_the_reply_named() -> None:
    history = _turns(("Which option turns on the page cache?",
                      "The cache_pages option turns it on [1]."))
    assert condense("Is it enabled by default?", history) == (
        "Is the cache_pages option enabled by default?")
    # A reply that names nothing of the kind asked for leaves the pronoun to the question.
    history = _turns(("Which planet has the largest moon?", "That is listed in table 2."))
    assert condense("How big is it?", history) == "How big is the largest moon?"


def test_an_elliptical_follow_up_can_ask_about_another_option() -> None:
    history = _turns(("What does --dry-run do in the installer?", "It prints the steps."))
    assert condense("And --force?", history) == "What does --force do in the installer?"
    history = _turns(("What does the -v flag of the archiver do?", "It lists files."))
    assert condense("What about -q?", history) == "What does the -q flag of the archiver do?"


def test_an_elliptical_noun_phrase_replaces_the_phrase_with_its_head_noun() -> None:
    history = _turns(("How long does a read loop in the shell wait?", "Until EOF."))
    assert condense("What about a poll loop?", history) == (
        "How long does a poll loop in the shell wait?")


def test_a_personal_pronoun_after_a_who_question_stands_for_the_person_answered() -> None:
    history = _turns(("Who wrote the parser?", "The parser was written by Grace Hopper."))
    assert condense("How can I contact her?", history) == "How can I contact Grace Hopper?"
    # "it" is still the thing asked about, not the person.
    assert condense("Is it still maintained?", history) == "Is the parser still maintained?"
    # A place or an organisation the reply names is no one "he" can be.
    history = _turns(("Who is Ken Ota?", "Ken Ota is a professor at Tohoku University."))
    assert condense("Which university is he affiliated with?", history) == (
        "Which university is Ken Ota affiliated with?")
    # A who-question naming its person keeps "he" for that person, whoever the reply names.
    history = _turns(("Who is Ken Ota?", "A professor who met Mary Smith in Osaka."))
    assert condense("When was he born?", history) == "When was Ken Ota born?"


def test_a_pronoun_stands_for_what_the_earlier_question_names_first() -> None:
    # The subject comes before what the question says of it; the last name is often an
    # argument or the object ("MODE_APPEND", "BTF").
    history = [{"role": "user",
                "content": "Which error does open_stream() raise with MODE_APPEND?"},
               {"role": "assistant", "content": "It raises StreamError."}]
    assert "open_stream()" in condense("And when is it safe to call it twice?", history)
    history = [{"role": "user", "content": "How do I make Clang 17 emit BTF data?"},
               {"role": "assistant", "content": "Pass -gbtf."}]
    assert "Clang" in condense("Which version of BTF does it write?", history)
