"""Colour naming on synthetic images whose colours are known."""

import numpy as np
import pytest
from PIL import Image

from accessibility.colours import PALETTE, appearance, dominant_colours, name_of, srgb_to_lab


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


def test_two_colour_image_shares():
    image = Image.new("RGB", (100, 100), (20, 20, 230))
    image.paste((230, 20, 20), (0, 0, 100, 25))  # a quarter red
    colours = dominant_colours(image)
    assert [c.name for c in colours] == ["blue", "red"]
    assert colours[0].share == pytest.approx(0.75, abs=0.02) and colours[1].share == pytest.approx(0.25, abs=0.02)


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
