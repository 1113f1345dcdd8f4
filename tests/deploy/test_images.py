"""The images build from this tree and run: deploy/images.py builds both with podman on a private storage root
(base images made from Debian packages where registries are out of reach), then runs the compose commands
inside them: Dask scheduler, worker and MLflow UI answer, the pipeline job runs on that scheduler over photos
on the volume, and the server image serves the result (/readyz 200, described search results, no torch).

It takes ~11 minutes on 2 cores (~20 GB of layers while it runs, removed after) and needs root, podman,
buildah and mmdebstrap (`make setup` installs them as root; `make images` runs the same from the command
line); it skips with the reason where they are missing, and GLIMPSE_IMAGE_TESTS=0 skips it.
"""

from __future__ import annotations

import json
import os

import pytest

from deploy import images
from models.evaluation import coco_root

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

PHOTOS = coco_root() / "train2017"


def _skip_reason() -> str | None:
    if os.environ.get("GLIMPSE_IMAGE_TESTS") == "0":
        return "GLIMPSE_IMAGE_TESTS=0"
    missing = images.missing_tools(stand_in_bases=True)
    if missing:
        return f"{', '.join(missing)} not installed (Debian: apt-get install podman buildah mmdebstrap)"
    if os.geteuid() != 0:
        return "podman builds with chroot isolation and overlay storage need root here"
    if not PHOTOS.is_dir():
        return f"no photos at {PHOTOS}"
    return None


@pytest.mark.skipif(_skip_reason() is not None, reason=str(_skip_reason()))
def test_both_images_build_from_this_tree_and_run_what_compose_runs(tmp_path):
    report_path = tmp_path / "report.json"
    storage = tmp_path / "storage"
    args = ["all", "--stand-in-bases", "--storage", str(storage), "--photos", str(PHOTOS), "--count", "6"]
    try:
        assert images.main([*args, "--report", str(report_path)]) == 0
    finally:
        images.Engine(storage).reset()  # ~20 GB of layers, and mounts pytest could not remove
    print(report_path.read_text())
    report = json.loads(report_path.read_text())
    server, pipeline = report["images"]["server"], report["images"]["pipeline"]
    assert 0 < server["size_mb"] < pipeline["size_mb"]
    check = report["check"]
    assert check["photos"] == 6
    assert len(check["search_alts"]) == 3 and all(check["search_alts"])
    assert check["server_image_has"] == []
