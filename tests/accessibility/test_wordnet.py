"""WordNet from the Debian package: ImageNet ids, hypernym chains, merging labels into a general one."""

import pytest

from accessibility.wordnet import DEFAULT_DATA, WordNet, english_words, is_english

pytestmark = pytest.mark.skipif(
    not DEFAULT_DATA.exists(), reason="Debian wordnet-base not installed (make setup as root)"
)


@pytest.fixture(scope="module")
def wordnet():
    return WordNet()


def test_reads_all_noun_synsets(wordnet):
    assert len(wordnet) == 82115  # WordNet 3.0 nouns


def test_imagenet_id_and_names(wordnet):
    tabby = wordnet.synset("n02123045")
    assert tabby.name == "tabby" and "tabby cat" in tabby.lemmas and "coat" in tabby.gloss


def test_hypernym_chain_reaches_cat_animal_entity(wordnet):
    names = [wordnet.synset(o).name for o in wordnet.ancestors("n02123045")]
    assert names[0] == "tabby"
    for general in ("domestic cat", "cat", "mammal", "animal", "entity"):
        assert general in names
    assert names.index("cat") < names.index("animal") < names.index("entity")


def test_cats_merge_into_domestic_cat_and_cat_with_dog_into_carnivore(wordnet):
    cats = ["n02123045", "n02123159", "n02124075"]  # tabby, tiger cat, Egyptian cat
    assert wordnet.lowest_common_ancestor(cats).name == "domestic cat"
    assert wordnet.lowest_common_ancestor([*cats, "n02085620"]).name == "carnivore"  # + Chihuahua


def test_depth_and_unknown_offsets(wordnet):
    assert wordnet.depth(wordnet.ancestors("n02123045")[-1]) == 0
    assert wordnet.depth("n02123045") > wordnet.depth("n02121620")  # tabby is deeper than cat
    with pytest.raises(KeyError, match="n99999999"):
        wordnet.synset("n99999999")


def test_missing_database_says_what_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match="wordnet-base"):
        WordNet(tmp_path / "data.noun")


def test_is_a_follows_the_most_common_sense_and_plurals(wordnet):
    assert all(wordnet.is_a(word, "person") for word in ("astronaut", "women", "children", "skier", "boys"))
    assert not wordnet.is_a("cat", "person")  # "cat" is also slang for a guy, but not usually
    assert wordnet.is_a("spaniels", "dog") and wordnet.is_a("puppy", "dog") and not wordnet.is_a("yak", "dog")


def test_words_mostly_used_as_adjectives_are_not_taken_for_nouns(wordnet):
    # "a white dog" names no person, though one noun sense of "white" is a person of European descent
    assert wordnet.mostly_adjective("white") and not wordnet.is_a("white", "person")
    assert not wordnet.is_a("whites", "person") and not wordnet.is_a("black", "person")
    assert not any(wordnet.mostly_adjective(word) for word in ("man", "children", "ice cream", "zzzz"))
    assert wordnet.is_a("duck", "bird") and wordnet.is_a("cook", "person")  # verbs too, but nouns in captions
    assert not wordnet.is_a("Eileen", "person") and not wordnet.is_a("", "person")


def test_english_words_and_their_inflections_are_told_from_misreadings():
    for word in ("yield", "crossing", "crashing", "guys", "cities", "running", "fishermen", "pennsylvania", "museum"):
        assert is_english(word), word
    for word in ("pennsyinania", "remium", "egular", "dakley", "girthday", "mushreom"):
        assert not is_english(word), word
    assert "dog" in english_words() and "hot_dog" not in english_words()  # one-word lemmas only


def test_a_missing_dictionary_says_what_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match="wordnet-base"):
        english_words(tmp_path)
