"""Names of the feature views and their features, without importing Feast (the server reads these
before it may import Feast)."""

METADATA = "image_metadata"
THUMBNAIL = "image_thumbnail"
EMBEDDING = "image_embedding"
DESCRIPTION = "image_description"
SIGHTINGS = "image_sightings"

METADATA_FEATURES = (
    "path",
    "format",
    "width",
    "height",
    "bytes",
    "exif_datetime",
    "camera",
    "source",
    "licence",
    "source_description",
)
INTEGER_FEATURES = {"width", "height", "bytes"}
DESCRIPTION_FEATURES = ("alt", "long", "evidence")
# What the see stage found: objects and text lines as JSON lists (boxes in the original's pixels), counts as a
# JSON object ({"person": 2}), and the text read, joined, for search.
SIGHTING_FEATURES = ("objects", "counts", "text_lines", "text")
