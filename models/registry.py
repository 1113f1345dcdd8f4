"""The model registry: MLflow (SQLite backend, local artifact folder), one registered model of bundles.

Each version bundles the encoder spec, the ONNX files and the evaluation metrics it was registered with;
aliases (``candidate``, ``production``) choose what is served. A tracking URI naming an MLflow server (scaled
out: backed by PostgreSQL) works unchanged; bundles then go to and come from the server's artifact store.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

CANDIDATE = "candidate"
PRODUCTION = "production"


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    spec: str
    bundle_version: str
    source: str
    aliases: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def _client(tracking_uri: str):
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def absolute_sqlite_uri(uri: str, base: Path | None = None) -> str:
    """``sqlite:///relative/path`` made absolute against ``base`` (default: the working directory).

    MLflow caches its SQL store per URI string, so two projects using the same relative URI in one
    process would otherwise share the first one's database.
    """
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + str(((base or Path.cwd()) / uri.removeprefix(prefix)).resolve())
    return uri


class Registry:
    def __init__(self, tracking_uri: str, artifact_root: Path | str, name: str = "glimpse") -> None:
        tracking_uri = absolute_sqlite_uri(tracking_uri)
        self.tracking_uri = tracking_uri
        self.artifact_root = Path(artifact_root).resolve()
        self.name = name
        if tracking_uri.startswith("sqlite:///"):
            Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.client = _client(tracking_uri)

    @property
    def remote(self) -> bool:
        """An MLflow server: artifacts go through it (its artifact store), not to a local folder."""
        return self.tracking_uri.startswith(("http://", "https://"))

    def _experiment_id(self) -> str:
        found = self.client.get_experiment_by_name(self.name)
        if found:
            return found.experiment_id
        if self.remote:  # the server's default location (its --artifacts-destination, served over HTTP)
            return self.client.create_experiment(self.name)
        self.artifact_root.mkdir(parents=True, exist_ok=True)
        return self.client.create_experiment(self.name, artifact_location=self.artifact_root.as_uri())

    def find(self, bundle_version: str) -> ModelVersion | None:
        """The registered version holding this exact bundle, if any (registration is idempotent)."""
        if not self._model_exists():
            return None
        for item in self.client.search_model_versions(f"name='{self.name}'"):
            if item.tags.get("bundle_version") == bundle_version:
                return self._describe(item)
        return None

    def register(self, bundle_dir: Path, spec: str, bundle_version: str, metrics: dict[str, float]) -> ModelVersion:
        """Log the bundle and its metrics in a run and register it as a new model version."""
        existing = self.find(bundle_version)
        if existing is not None:
            logger.info("bundle %s is already version %s of %s", bundle_version, existing.version, self.name)
            item = self.client.get_model_version(self.name, existing.version)
            changed = {
                _metric_key(k): float(v)
                for k, v in metrics.items()
                if isinstance(v, int | float) and existing.metrics.get(_metric_key(k)) != float(v)
            }
            for key, value in changed.items():  # a re-evaluation (new data, new metric) updates the record
                self.client.log_metric(item.run_id, key, value)
            return self._describe(item) if changed else existing
        run = self.client.create_run(self._experiment_id(), run_name=f"{spec} {bundle_version}")
        run_id = run.info.run_id
        self.client.log_param(run_id, "spec", spec)
        self.client.log_param(run_id, "bundle_version", bundle_version)
        for key, value in metrics.items():
            if isinstance(value, int | float):
                self.client.log_metric(run_id, _metric_key(key), float(value))
        self.client.log_artifacts(run_id, str(bundle_dir), artifact_path="bundle")
        self.client.set_terminated(run_id)
        if not self._model_exists():
            self.client.create_registered_model(self.name, description="Glimpse model bundles (ONNX encoders)")
        source = f"{run.info.artifact_uri}/bundle"
        created = self.client.create_model_version(
            self.name, source=source, run_id=run_id, tags={"spec": spec, "bundle_version": bundle_version}
        )
        return self._describe(self.client.get_model_version(self.name, created.version))

    def tag(self, version: str, tags: dict[str, str]) -> None:
        """Record facts about a version (e.g. the index built for it); re-tagging overwrites."""
        for key, value in tags.items():
            self.client.set_model_version_tag(self.name, version, key, str(value))

    def set_alias(self, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(self.name, alias, version)

    def has_alias(self, alias: str) -> bool:
        try:
            self.get(alias)
        except KeyError:
            return False
        return True

    def get(self, alias_or_version: str) -> ModelVersion:
        """A version by alias (``production``) or number (``3``); KeyError when there is none."""
        from mlflow.exceptions import MlflowException

        try:
            if alias_or_version.isdigit():
                item = self.client.get_model_version(self.name, alias_or_version)
            else:
                item = self.client.get_model_version_by_alias(self.name, alias_or_version)
        except MlflowException as exc:
            raise KeyError(f"{self.name} has no version or alias {alias_or_version!r}") from exc
        return self._describe(item)

    def versions(self) -> list[ModelVersion]:
        if not self._model_exists():
            return []
        items = self.client.search_model_versions(f"name='{self.name}'")
        return sorted((self._describe(i) for i in items), key=lambda v: int(v.version))

    def bundle_path(self, version: ModelVersion) -> Path:
        """Local folder of a version's bundle (file artifact store: no copy needed)."""
        source = version.source
        if source.startswith("file://"):
            from urllib.parse import unquote, urlparse

            return Path(unquote(urlparse(source).path))
        import mlflow.artifacts

        return Path(mlflow.artifacts.download_artifacts(artifact_uri=source, tracking_uri=self.tracking_uri))

    def promote_if_not_worse(self, version: str, keys: list[str], tolerance: float = 0.0) -> tuple[bool, str]:
        """Move ``production`` to ``version`` unless it is worse than the current production on any key."""
        candidate = self.get(version)
        try:
            current = self.get(PRODUCTION)
        except KeyError:
            self.set_alias(PRODUCTION, version)
            return True, f"version {version} is the first production model"
        if current.version == version:
            return True, f"version {version} is already production"
        worse = []
        for key in map(_metric_key, keys):
            if key not in current.metrics:
                continue
            mine, theirs = candidate.metrics.get(key, float("-inf")), current.metrics[key]
            if not mine >= theirs - tolerance:
                worse.append(f"{key} {mine:.4f} < {theirs:.4f}")
        if worse:
            return (
                False,
                f"version {version} stays candidate: worse than production v{current.version} on " + "; ".join(worse),
            )
        self.set_alias(PRODUCTION, version)
        return True, f"version {version} promoted over v{current.version}"

    def _model_exists(self) -> bool:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(self.name)
            return True
        except MlflowException:
            return False

    def _describe(self, item) -> ModelVersion:
        metrics = {}
        if item.run_id:
            metrics = dict(self.client.get_run(item.run_id).data.metrics)
        aliases = list(getattr(item, "aliases", []) or [])
        if not aliases:  # search results leave aliases out; the registered model has the mapping
            mapping = self.client.get_registered_model(item.name).aliases or {}
            aliases = sorted(alias for alias, version in mapping.items() if str(version) == str(item.version))
        return ModelVersion(
            name=item.name,
            version=str(item.version),
            spec=item.tags.get("spec", ""),
            bundle_version=item.tags.get("bundle_version", ""),
            source=item.source,
            aliases=aliases,
            metrics=metrics,
            tags=dict(item.tags or {}),
        )


def _metric_key(key: str) -> str:
    """MLflow metric names allow letters, digits, ``_-./`` and spaces; ``R@10`` becomes ``R_at_10``."""
    return key.replace("@", "_at_")
