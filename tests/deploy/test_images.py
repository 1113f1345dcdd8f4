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
import subprocess
import sys

import pytest

from deploy import images
from models.evaluation import coco_root

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


@pytest.mark.slow
@pytest.mark.timeout(3600)
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


def test_a_failed_command_repeats_its_last_lines_in_the_error(capsys):
    script = "import sys\nfor i in range(100): print('line', i)\nprint('the real cause', file=sys.stderr)\nsys.exit(3)"
    with pytest.raises(subprocess.CalledProcessError) as failed:
        images.run_keeping_tail([sys.executable, "-c", script], lines=5)
    assert failed.value.returncode == 3
    assert failed.value.output.splitlines() == ["line 96", "line 97", "line 98", "line 99", "the real cause"]
    assert "line 0\n" in capsys.readouterr().out  # the whole output still streams as it comes


def test_a_build_that_fails_once_is_built_again_and_a_second_failure_is_reported(monkeypatch, capsys):
    outcomes = [subprocess.CalledProcessError(1, ["podman"], output="Connection reset by peer"), None]

    def run(argv, lines=images.TAIL_LINES):
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    monkeypatch.setattr(images, "run_keeping_tail", run)
    assert images.build(images.Engine(), "server", ca=None) >= 0
    assert outcomes == []
    assert "Connection reset by peer" in capsys.readouterr().out

    outcomes[:] = [subprocess.CalledProcessError(1, ["podman"], output=f"failure {n}") for n in (1, 2)]
    monkeypatch.setattr(images, "missing_tools", lambda stand_in_bases=False: [])
    monkeypatch.setattr(images, "build_all", lambda engine, **_: images.build(engine, "server", None))
    assert images.main(["build"]) == 1
    err = capsys.readouterr().err
    assert "failed with exit code 1" in err and err.rstrip().endswith("failure 2")
