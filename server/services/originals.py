"""Original image files, read only from inside the collection folder."""

from __future__ import annotations

from server.core.config import Settings
from server.services.features import FeatureReader, ImageRecord


class OriginalUnavailableError(LookupError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def read_original(settings: Settings, features: FeatureReader, image_id: str) -> tuple[bytes, ImageRecord]:
    """The original bytes and the image's record; symlinks or paths leading outside the folder are refused."""
    record = features.records([image_id])[0]
    if record is None:
        raise OriginalUnavailableError("unknown_image", f"there is no image {image_id}")
    root = settings.path(settings.collection_root).resolve()
    path = (root / record.metadata["path"]).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise OriginalUnavailableError("image_file_missing", "the original file is no longer in the collection folder")
    return path.read_bytes(), record
