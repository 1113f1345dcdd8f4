"""Query respelling: typos corrected to the commonest English word one edit away; names, other languages and the
collection's own words left alone."""

from __future__ import annotations

import pytest

from models.spelling import Correction, Speller


@pytest.fixture(scope="module")
def speller() -> Speller:
    return Speller()


@pytest.mark.parametrize(
    ("typed", "searched"),
    [
        ("a giraffee near trees", "a giraffe near trees"),  # a letter added
        ("a plane flying aobve clouds", "a plane flying above clouds"),  # two letters swapped
        ("brocoli on a plate", "broccoli on a plate"),  # a letter dropped
        ("a red umbrela", "a red umbrella"),
        ("Giraffee", "Giraffe"),  # the first word keeps its capital
        ("a sandwhich", "a sandwich"),  # two common words run together, but a common word one edit away
        ("teddy bera", "teddy bear"),
    ],
)
def test_a_typo_is_respelled(speller: Speller, typed: str, searched: str) -> None:
    query, changes = speller.correct(typed)
    assert query == searched
    assert changes and all(isinstance(c, Correction) and c.typed in typed and c.searched in query for c in changes)


@pytest.mark.parametrize(
    "typed",
    [
        "A dog that looks like Lassy stands in a doorway.",  # a name: capitalised after the first word
        "A Serta mattress",
        "ISTANBUL GRIL",  # capitals: the words of a sign
        "teh cat",  # shorter than four letters
        "couldn't see",  # an apostrophe
        "un café à Paris",  # letters outside ASCII
        "a cafe at night",  # the list has "café": accents aside it is known
        "two frisbees",  # a plural of a listed word
        "a clownfish",  # two common words run together, with only a rare word one edit away
        "a bycicle",  # two edits from "bicycle": left as typed
        "perro gato playa grande",  # mostly unknown: probably not English
        "Colored markers and red handled scissors on white paper.",
        "A packed lunch with a cheese sandwich, scrambled eggs and a bowl of chili.",
        "A chocolate frosted donut on a white plate next to a cup of coffee.",
        "",
    ],
)
def test_words_that_are_not_typos_stay(speller: Speller, typed: str) -> None:
    assert speller.correct(typed) == (typed, [])


def test_the_collection_s_words_are_never_respelled_and_are_preferred() -> None:
    collection = {"lassy", "grill"}
    speller = Speller(lambda word: word in collection)
    assert speller.correct("lassy on the lawn") == ("lassy on the lawn", [])
    assert Speller().correct("lassy on the lawn")[0] != "lassy on the lawn"  # without the collection: respelled
    assert speller.correct("istanbul gril")[0] == "istanbul grill"  # not the commoner "girl"
    assert Speller().correct("istanbul gril")[0] == "istanbul girl"


def test_only_the_typo_changes_and_the_rest_of_the_query_is_kept(speller: Speller) -> None:
    typed = "  two  dogs, one giraffee (tall) - and 3 cats!"
    query, changes = speller.correct(typed)
    assert query == typed.replace("giraffee", "giraffe")
    assert changes == [Correction("giraffee", "giraffe")]


def test_two_typos_in_a_short_query_are_both_respelled(speller: Speller) -> None:
    assert speller.correct("a yelow bus on a stret")[0] == "a yellow bus on a street"
