import numpy as np

from models.evaluation import image_to_text_recall, ranks_of_positives, recall_at, text_to_image_recall


def test_ranks_and_recall_on_a_known_case():
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8]])
    ranks = ranks_of_positives(scores, [{0}, {0}])
    assert ranks.tolist() == [0, 2]
    assert recall_at(ranks, (1, 2, 3)) == {"R@1": 0.5, "R@2": 0.5, "R@3": 1.0}


def test_ties_are_broken_at_random_not_by_storage_order():
    """A model scoring everything equal must land near the random floor, not at R@1 = 1."""
    scores = np.zeros((2000, 10))
    ranks = ranks_of_positives(scores, [{0}] * 2000)
    assert 0.07 < recall_at(ranks, (1,))["R@1"] < 0.13


def test_text_and_image_directions():
    images = np.eye(3, dtype=np.float32)
    texts = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0.9, 0.1]], dtype=np.float32)
    owners = [0, 1, 2, 1]
    assert text_to_image_recall(texts, images, owners)["R@1"] == 1.0
    assert image_to_text_recall(images, texts, owners)["R@1"] == 1.0


def test_weak_threshold_separates_the_two_groups():
    from models.evaluation import weak_threshold

    rng = np.random.default_rng(0)
    positive = rng.normal(0.6, 0.05, 500)
    negative = rng.normal(0.2, 0.05, 5000)
    assert 0.3 < weak_threshold(positive, negative) < 0.5
    assert weak_threshold(np.array([0.9]), np.array([0.1])) == 0.9
