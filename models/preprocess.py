"""Image preprocessing in PIL + numpy, shared by the torch encoders and the ONNX runtime.

One implementation for every path means an image embedded at ingestion (ONNX), at evaluation (torch) or
uploaded as a query gets exactly the same pixels. No torch import here: the server uses it too.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

_RESAMPLE = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


@dataclass(frozen=True)
class ImagePreprocess:
    """Resize the short side to ``size / crop_pct``, centre-crop ``size``², scale to [0, 1], normalise.

    ``corner_crop`` > 0 adds four more views for the shared text/image embedding (``views``): the square corners
    of that fraction of the short side, each preprocessed like the whole picture. The centre view alone misses
    what is near the edges of a wide photo and sees everything at one scale (docs/models.md, "Views")."""

    size: int = 224
    crop_pct: float = 0.875
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    interpolation: str = "bicubic"
    corner_crop: float = 0.0

    @property
    def view_count(self) -> int:
        return 5 if self.corner_crop > 0 else 1

    @property
    def resize_to(self) -> int:
        return math.floor(self.size / self.crop_pct)

    def __call__(self, image: Image.Image) -> np.ndarray:
        """A float32 array of shape (3, size, size)."""
        image = to_rgb(image)
        width, height = image.size
        # Resize only the source region that ends up in the centre crop: the same pixels as
        # resize-then-crop, for ~25 % less resampling work.
        scale = self.resize_to / min(width, height)
        scaled_w, scaled_h = max(self.size, round(width * scale)), max(self.size, round(height * scale))
        left, top = (scaled_w - self.size) // 2, (scaled_h - self.size) // 2
        sx, sy = width / scaled_w, height / scaled_h
        box = (left * sx, top * sy, (left + self.size) * sx, (top + self.size) * sy)
        image = image.resize((self.size, self.size), _RESAMPLE[self.interpolation], box=box)
        array = np.asarray(image, dtype=np.float32) / 255.0
        array = (array - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return np.ascontiguousarray(array.transpose(2, 0, 1))

    def views(self, image: Image.Image) -> np.ndarray:
        """A float32 array of shape (view_count, 3, size, size): the centre view first, then the corners."""
        image = to_rgb(image)
        out = [self(image)]
        if self.corner_crop > 0:
            width, height = image.size
            side = max(1, round(min(width, height) * self.corner_crop))
            for left, top in ((0, 0), (width - side, 0), (0, height - side), (width - side, height - side)):
                out.append(self(image.crop((left, top, left + side, top + side))))
        return np.stack(out)

    def batch(self, images: list[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, 3, self.size, self.size), np.float32)
        return np.stack([self(image) for image in images])

    def load(self, data: bytes) -> np.ndarray:
        """Decode image bytes straight to model input; JPEGs decode at a reduced scale when that is enough."""
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (self.resize_to, self.resize_to))
            return self(ImageOps.exif_transpose(image))

    def load_views(self, data: bytes) -> np.ndarray:
        """``views`` of image bytes, (view_count, 3, size, size); decoded at a reduced scale only as far as the
        smallest corner still has the pixels it needs."""
        with Image.open(io.BytesIO(data)) as image:
            if self.corner_crop > 0:
                need = math.ceil(self.resize_to / self.corner_crop)
                image.draft("RGB", (need, need))
            else:
                image.draft("RGB", (self.resize_to, self.resize_to))
            return self.views(ImageOps.exif_transpose(image))

    def to_dict(self) -> dict:
        return {
            "size": self.size,
            "crop_pct": self.crop_pct,
            "mean": list(self.mean),
            "std": list(self.std),
            "interpolation": self.interpolation,
            "corner_crop": self.corner_crop,
        }

    @classmethod
    def from_dict(cls, values: dict) -> ImagePreprocess:
        return cls(
            size=int(values["size"]),
            crop_pct=float(values["crop_pct"]),
            mean=tuple(values["mean"]),
            std=tuple(values["std"]),
            interpolation=values.get("interpolation", "bicubic"),
            corner_crop=float(values.get("corner_crop", 0.0)),
        )


_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
_HIGH_DEPTH_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def to_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB for models and thumbnails: transparency composited on white (a cut-out then reads like a
    catalogue photo, where black would invent a dark background), 16-bit and float images scaled down to
    8 bits rather than clipped to white, palette, greyscale, bilevel and CMYK images converted by Pillow."""
    if image.mode in _HIGH_DEPTH_MODES:
        array = np.asarray(image, dtype=np.float64)
        top = float(array.max()) or 1.0
        image = Image.fromarray(np.clip(array / top * 255.0, 0, 255).astype(np.uint8), "L")
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = (image.convert("LA") if image.mode == "La" else image).convert("RGBA")  # Pillow: no La → RGBA
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")
