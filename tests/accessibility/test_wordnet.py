"""WordNet from the Debian package: ImageNet ids, hypernym chains, merging labels into a general one."""

import pytest

from accessibility.wordnet import DEFAULT_DATA, WordNet

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
    assert not wordnet.is_a("Eileen", "person") and not wordnet.is_a("", "person")
