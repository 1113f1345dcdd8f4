"""bench/soak.py's scratch project: built by the real pipeline over a collection, a second model version
registered beside the production one, and the ids and JPEGs the load asks about."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np

from models.evaluation import coco_root
from tools.processes import spawn

ROOT = Path(__file__).resolve().parents[1]
SPEC = "conse:lite1:T20"
CHILD_ENV = {"KEDRO_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def kedro_cmd(params: dict[str, str], pipelines: str | None = None) -> list[str]:
    kedro = Path(sys.executable).parent / "kedro"
    cmd = [str(kedro if kedro.exists() else ROOT / ".venv" / "bin" / "kedro"), "run"]
    if params:
        cmd += ["--params", ",".join(f"{k}={v}" for k, v in params.items())]
    if pipelines:
        cmd += ["--pipelines", pipelines]
    return cmd


def build_project(project: Path, collection: Path, logs: Path, timeout_s: float = 1800.0) -> dict[str, str]:
    """A scratch project over ``collection`` with the default model, built by the real pipeline (`kedro run`).
    The repo's exported bundle is copied in, so nothing is exported (or written) into the repo."""
    from pipeline.pipelines.embed.nodes import bundle_folder

    if not any(collection.rglob("*.jpg")):
        sys.exit(f"{collection} has no photos: gather the demo collection first (make collect)")
    project.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    shutil.copytree(ROOT / "conf", project / "conf", dirs_exist_ok=True, ignore=shutil.ignore_patterns("local"))
    (project / "conf" / "local").mkdir(exist_ok=True)
    bundles = project / "models" / "onnx"
    repo_bundle = bundle_folder(ROOT / "models" / "onnx", SPEC)
    if repo_bundle.is_dir() and not bundle_folder(bundles, SPEC).exists():
        shutil.copytree(repo_bundle, bundle_folder(bundles, SPEC))
    manifest = collection / "manifest.csv"
    coco = coco_root()
    params = {
        "ingest.root": str(collection),
        "model.spec": SPEC,
        "model.bundle_root": str(bundles),
        "evaluate.coco_root": str(coco if coco.exists() else project / "no-coco"),
        "evaluate.demo_manifest": str(manifest),
        "describe.source_manifest": str(manifest),
        "publish.demo_manifest": str(manifest),
    }
    log = logs / "kedro-build.log"
    kedro = spawn(kedro_cmd(params), log, name="kedro", cwd=project, env=CHILD_ENV)
    try:
        code = kedro.wait(timeout_s)
    finally:
        kedro.stop(grace_s=15)
    if code != 0:
        sys.exit(f"building the scratch project failed ({code}); {log}:\n{kedro.log_tail(3000)}")
    (project / "soak_project.json").write_text(json.dumps({"collection": str(collection), "params": params}, indent=2))
    return params


def registry_for(project: Path):
    from models.registry import Registry

    return Registry(f"sqlite:///{project}/data/mlflow/mlflow.db", project / "data/mlflow/artifacts")


def second_version(project: Path, seed: int = 0, scale: float = 0.3) -> tuple[str, str]:
    """(base, other): base = the production version; other = base's bundle plus a fixed random query adapter,
    registered (once; found again on later runs) the way the tune pipeline's ``register_adapter`` does, without
    moving any alias. It is served from the base version's index; text answers differ, image answers do not."""
    from models.adapter import ADAPTER_FILE, ADAPTER_META, save_adapter
    from models.bundle import BundleManifest
    from models.registry import PRODUCTION

    registry = registry_for(project)
    base = registry.get(PRODUCTION)
    bundle = registry.bundle_path(base)
    dim = BundleManifest.load(bundle).dim
    weights = (np.random.default_rng(seed).standard_normal((dim, dim)) * (scale / np.sqrt(dim))).astype(np.float32)
    adapter_version = hashlib.sha256(weights.tobytes()).hexdigest()[:12]
    key = f"{base.bundle_version}+a{adapter_version}"
    found = registry.find(key)
    if found is not None:
        return base.version, found.version
    folder = project / "data/06_models/adapters" / key
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(bundle, folder, ignore=shutil.ignore_patterns(ADAPTER_FILE, ADAPTER_META))
    note = "bench/soak.py: a fixed random adapter (not learned from votes), only to have a second version to switch to"
    save_adapter(
        folder, weights, {"base_version": base.version, "base_bundle_version": base.bundle_version, "note": note}
    )
    entry = registry.register(folder, base.spec, key, dict(base.metrics))
    index_tags = {k: v for k, v in base.tags.items() if k.startswith("index_")}
    registry.tag(entry.version, index_tags | {"base_model_version": base.version, "adapter_version": adapter_version})
    return base.version, entry.version


def query_material(project: Path, collection: Path, uploads: int = 8, max_upload_bytes: int = 2 << 20):
    """(image ids, [(file name, JPEG bytes)]): every indexed image id, and ``uploads`` JPEG originals of the
    collection of up to ``max_upload_bytes``, spread over the sizes."""
    import pandas as pd

    images = pd.read_parquet(
        project / "data/03_primary/images.parquet", columns=["image_id", "path", "format", "bytes"]
    )
    ids = sorted(images["image_id"])
    jpeg = images["format"].str.lower().isin(["jpeg", "jpg"])
    jpegs = images[jpeg & (images["bytes"] <= max_upload_bytes)].sort_values("bytes")
    if jpegs.empty:
        raise RuntimeError(f"no JPEG of at most {max_upload_bytes} bytes in {collection}")
    picks = jpegs.iloc[np.unique(np.linspace(0, len(jpegs) - 1, uploads).round().astype(int))]
    files = [(Path(p).name, (collection / p).read_bytes()) for p in picks["path"]]
    return ids, files
