import numpy as np
from PIL import Image

from models.preprocess import ImagePreprocess, to_rgb
from tests.fixtures.images import encode, photo


def test_shape_range_and_centre_crop():
    pre = ImagePreprocess(size=32, crop_pct=1.0, mean=(0.5,) * 3, std=(0.5,) * 3)
    wide = Image.new("RGB", (300, 100), (0, 0, 0))
    wide.paste((255, 255, 255), (100, 0, 200, 100))  # a white centre third
    out = pre(wide)
    assert out.shape == (3, 32, 32) and out.dtype == np.float32
    assert out.min() >= -1.0 and out.max() <= 1.0
    assert out[:, :, 8:24].mean() > 0.9  # the centre crop sees the white band


def test_transparent_pixels_become_white():
    pre = ImagePreprocess(size=8, crop_pct=1.0)
    out = pre(Image.new("RGBA", (10, 10), (0, 0, 0, 0)))
    np.testing.assert_allclose(out, 1.0)


def test_bytes_and_image_paths_agree_for_png():
    pre = ImagePreprocess(size=64, crop_pct=0.875)
    image = photo(120, 90, seed=3)
    np.testing.assert_allclose(pre.load(encode(image, "PNG")), pre(image), atol=1e-6)


def test_round_trip_dict():
    pre = ImagePreprocess(size=240, crop_pct=0.882, interpolation="bilinear", corner_crop=0.8)
    assert ImagePreprocess.from_dict(pre.to_dict()) == pre
    older = {k: v for k, v in pre.to_dict().items() if k != "corner_crop"}  # a bundle exported before views
    assert ImagePreprocess.from_dict(older).view_count == 1


def test_views_are_the_centre_then_the_four_corners():
    pre = ImagePreprocess(size=16, crop_pct=1.0, corner_crop=0.5)
    quarters = Image.new("RGB", (200, 100), (0, 0, 0))  # four colours in the four corners, grey between
    quarters.paste((128, 128, 128), (50, 0, 150, 100))
    for (left, top), colour in zip(
        ((0, 0), (150, 0), (0, 50), (150, 50)), ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)), strict=True
    ):
        quarters.paste(colour, (left, top, left + 50, top + 50))
    views = pre.views(quarters)
    assert views.shape == (5, 3, 16, 16) and views.dtype == np.float32
    np.testing.assert_array_equal(views[0], pre(quarters))  # the centre view is the single view
    corners = [view.reshape(3, -1).mean(axis=1) for view in views[1:]]  # mean colour of each, in [-1, 1]
    np.testing.assert_allclose(corners, [[1, -1, -1], [-1, 1, -1], [-1, -1, 1], [1, 1, 1]], atol=0.05)
    assert ImagePreprocess(size=16).views(quarters).shape == (1, 3, 16, 16)  # no corner_crop: one view


def test_views_from_bytes_match_views_of_the_image():
    pre = ImagePreprocess(size=32, crop_pct=0.875, corner_crop=0.8)
    image = photo(120, 90, seed=4)
    np.testing.assert_allclose(pre.load_views(encode(image, "PNG")), pre.views(image), atol=1e-6)


def test_empty_batch():
    assert ImagePreprocess(size=16).batch([]).shape == (0, 3, 16, 16)


def test_to_rgb_composites_on_white_and_scales_high_bit_depths():
    clear = Image.new("RGBA", (3, 2), (0, 0, 0, 0))
    assert to_rgb(clear).mode == "RGB"
    assert to_rgb(clear).getpixel((0, 0)) == (255, 255, 255)
    half = Image.new("LA", (1, 1), (0, 128))
    assert all(120 <= channel <= 130 for channel in to_rgb(half).getpixel((0, 0)))
    ramp = Image.fromarray(np.array([[0, 1000, 2000]], dtype=np.uint16))
    assert ramp.mode == "I;16"
    assert [to_rgb(ramp).getpixel((x, 0))[0] for x in range(3)] == [0, 127, 255]
    for mode in ("P", "PA", "L", "La", "1", "CMYK", "YCbCr", "HSV", "LAB", "RGBa", "I", "I;16", "F"):
        converted = to_rgb(Image.new("RGB", (1, 1), (10, 20, 30)).convert(mode))
        assert converted.mode == "RGB" and converted.size == (1, 1)
    rgb = Image.new("RGB", (2, 2))
    assert to_rgb(rgb) is rgb
