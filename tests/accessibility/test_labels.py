"""Pooling ImageNet classes through WordNet: the subject said, and how sure the system is."""

import pytest

from accessibility.labels import Label, basic_level, identify
from accessibility.wordnet import default_wordnet

TABBY = Label("n02123045", "tabby cat", 0.3)
TIGER_CAT = Label("n02123159", "tiger cat", 0.28)
EGYPTIAN = Label("n02124075", "Egyptian Mau", 0.25)
GOLDFINCH = Label("n01531178", "goldfinch", 0.2)
HOUSE_FINCH = Label("n01532829", "house finch", 0.2)
JUNCO = Label("n01534433", "junco", 0.15)
TOASTER = Label("n04442312", "toaster", 0.09)


@pytest.fixture(scope="module")
def wordnet():
    return default_wordnet()


def test_three_cat_breeds_become_a_cat(wordnet):
    subject = identify([TABBY, TIGER_CAT, EGYPTIAN, TOASTER], wordnet)
    assert subject.name == "cat" and subject.id == "n02121620"
    assert subject.confidence == pytest.approx(0.83)
    assert subject.pooled and set(subject.merged) == {"tabby cat", "tiger cat", "Egyptian Mau"}


def test_a_confident_class_is_said_as_itself_with_alternatives(wordnet):
    subject = identify([Label(TABBY.id, TABBY.name, 0.7), Label(TIGER_CAT.id, TIGER_CAT.name, 0.2)], wordnet)
    assert subject.name == "tabby cat" and not subject.pooled and subject.alternatives == ("tiger cat",)


def test_technical_hypernyms_are_said_at_the_basic_level(wordnet):
    subject = identify([GOLDFINCH, HOUSE_FINCH, JUNCO, TOASTER], wordnet)
    assert subject.name == "bird"  # not "finch family" or "oscine"
    assert basic_level(wordnet, wordnet.synset("n01525720").offset) == wordnet.synset("n01503061").offset


def test_unrelated_weak_classes_are_not_pooled_into_something_vague(wordnet):
    labels = [Label("n04442312", "toaster", 0.2), Label("n02123045", "tabby cat", 0.19), GOLDFINCH]
    subject = identify(labels, wordnet)
    assert subject.name == "toaster" and subject.confidence == pytest.approx(0.2) and not subject.pooled


def test_no_labels_and_unknown_ids(wordnet):
    assert identify([], wordnet) is None
    assert identify([Label("n02123045", "tabby cat", 0.0)], wordnet) is None
    subject = identify([Label("n99999999", "mystery", 0.4), Label("n02123045", "tabby cat", 0.3)], wordnet)
    assert subject.name == "mystery"


def test_familiarity_comes_from_tagged_corpus_counts(wordnet):
    assert wordnet.familiarity("n01503061") > 10  # bird
    assert wordnet.familiarity("n01525720") == 0  # oscine


def test_classes_said_the_same_way_count_as_one(wordnet):
    """ImageNet's two "sunglasses" classes at 0.3 each are one sunglasses at 0.6, not a 30 % guess twice."""
    subject = identify([Label("n04355933", "sunglasses", 0.3), Label("n04356056", "sunglasses", 0.3)], wordnet)
    assert subject.name == "sunglasses" and subject.id == "n04355933"
    assert subject.confidence == pytest.approx(0.6) and subject.alternatives == ()
