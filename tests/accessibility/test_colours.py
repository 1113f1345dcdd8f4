"""Colour naming on synthetic images whose colours are known."""

import numpy as np
import pytest
from PIL import Image

from accessibility.colours import PALETTE, ColourShare, appearance, dominant_colours, name_of, srgb_to_lab


@pytest.mark.parametrize(("name", "rgb"), PALETTE)
def test_every_palette_colour_names_itself(name, rgb):
    assert name_of(rgb) == name


@pytest.mark.parametrize(
    ("rgb", "expected"),
    [
        ((250, 10, 10), "red"),
        ((10, 10, 240), "blue"),
        ((20, 150, 30), "green"),
        ((250, 250, 250), "white"),
        ((5, 5, 5), "black"),
        ((250, 250, 40), "yellow"),
        ((120, 60, 20), "brown"),
        ((255, 150, 0), "orange"),
    ],
)
def test_near_colours_get_the_plain_word(rgb, expected):
    assert name_of(rgb) == expected


def test_lab_of_white_and_black():
    np.testing.assert_allclose(srgb_to_lab(np.array([255, 255, 255])), [100, 0, 0], atol=0.1)
    np.testing.assert_allclose(srgb_to_lab(np.array([0, 0, 0])), [0, 0, 0], atol=0.1)


@pytest.mark.parametrize(
    ("rgb", "lab"),
    [
        ((255, 0, 0), (53.24, 80.09, 67.20)),
        ((0, 255, 0), (87.73, -86.18, 83.18)),
        ((0, 0, 255), (32.30, 79.19, -107.86)),
    ],
)
def test_lab_of_the_srgb_primaries_is_the_published_d65_one(rgb, lab):
    """CIELAB of the sRGB primaries under D65, 2° observer, as published (Lindbloom's calculator)."""
    np.testing.assert_allclose(srgb_to_lab(np.array(rgb)), lab, atol=0.01)


def test_two_colour_image_shares():
    image = Image.new("RGB", (100, 100), (20, 20, 230))
    image.paste((230, 20, 20), (0, 0, 100, 25))  # a quarter red
    colours = dominant_colours(image)
    assert [c.name for c in colours] == ["blue", "red"]
    assert colours[0].share == pytest.approx(0.75, abs=0.02) and colours[1].share == pytest.approx(0.25, abs=0.02)


def test_noisy_two_colour_image_shares():
    """Thousands of distinct colours, so k-means runs: the clusters within each patch get the patch's word."""
    rng = np.random.default_rng(3)
    pixels = np.empty((64, 64, 3))
    pixels[:16], pixels[16:] = (230, 20, 20), (20, 20, 230)  # a quarter red, the rest blue
    noisy = np.clip(pixels + rng.integers(-12, 13, pixels.shape), 0, 255).astype(np.uint8)
    colours = dominant_colours(Image.fromarray(noisy))
    assert [c.name for c in colours] == ["blue", "red"]
    assert colours[0].share == pytest.approx(0.75, abs=0.01) and colours[1].share == pytest.approx(0.25, abs=0.01)


def test_few_colours_are_counted_exactly():
    """No more distinct colours than clusters: each is a cluster of its own and every pixel is counted."""
    image = Image.new("RGB", (64, 64), (255, 255, 255))
    image.paste((0, 0, 0), (0, 0, 64, 32))
    image.paste((220, 20, 60), (0, 32, 64, 52))
    assert dominant_colours(image) == [
        ColourShare("black", 0.5, (0, 0, 0)),
        ColourShare("red", 20 / 64, (220, 20, 60)),
        ColourShare("white", 12 / 64, (255, 255, 255)),
    ]


def test_small_patches_are_left_out():
    image = Image.new("RGB", (100, 100), (250, 250, 250))
    image.paste((0, 0, 0), (0, 0, 10, 10))  # 1 %
    assert [c.name for c in dominant_colours(image)] == ["white"]


def test_transparent_background_is_ignored():
    image = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    image.paste((255, 215, 0, 255), (10, 10, 40, 40))
    assert [c.name for c in dominant_colours(image)] == ["gold"]


def test_odd_images():
    assert dominant_colours(Image.new("RGBA", (10, 10), (0, 0, 0, 0))) == []  # fully transparent
    assert [c.name for c in dominant_colours(Image.new("RGB", (1, 1), (0, 0, 0)))] == ["black"]  # 1×1
    panorama = Image.new("RGB", (8000, 20), (34, 139, 34))
    assert [c.name for c in dominant_colours(panorama)] == ["green"]
    grey = Image.new("L", (20, 20), 128)
    assert [c.name for c in dominant_colours(grey)] == ["grey"]


def test_deterministic():
    rng = np.random.default_rng(1)
    image = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    assert dominant_colours(image) == dominant_colours(image)


def test_clustering_leaves_the_thread_pools_as_it_found_them():
    """k-means runs on one OpenMP thread; the limit is lifted afterwards, for whatever else the process runs."""
    from threadpoolctl import threadpool_info

    image = Image.fromarray(np.random.default_rng(2).integers(0, 255, (32, 32, 3), dtype=np.uint8))
    dominant_colours(image)  # loads scikit-learn and its OpenMP runtime
    before = [(pool["filepath"], pool["num_threads"]) for pool in threadpool_info()]
    dominant_colours(image)
    assert [(pool["filepath"], pool["num_threads"]) for pool in threadpool_info()] == before


def test_appearance_light_words_and_black_and_white():
    def look(colour, mode="RGB"):
        return appearance(Image.new(mode, (8, 8), colour))

    assert look((250, 250, 250)).light == "very bright"
    assert look((200, 200, 200)).light == "bright"
    assert look((10, 10, 20)).light == "very dark"
    assert look((128, 128, 128)).light == "medium"
    assert look((128, 128, 128)).black_and_white and not look((200, 30, 30)).black_and_white
    empty = look((0, 0, 0, 0), "RGBA")
    assert empty.light == "medium" and empty.lightness is None and empty.transparent == 1.0 and empty.colours == []


def test_appearance_measures_transparency_and_ignores_transparent_pixels():
    image = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, 20, 5))
    seen = appearance(image)
    assert seen.transparent == 0.75
    assert [c.name for c in seen.colours] == ["red"]
    assert seen.colours == dominant_colours(image)
