"""Several model versions served side by side: loaded on demand, evicted by LRU, memory budget and idle TTL.

A loaded version is an ONNX text session, an ONNX image session and the version's two Faiss indexes. A
request keeps a reference to the version it started with, so evicting or switching aliases never breaks
a request in flight. Aliases are re-read from the registry every ``alias_refresh_s`` seconds, so moving
``production`` takes effect without a restart.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.adapter import AdaptedTextEncoder, load_adapter
from models.bundle import BundleManifest
from models.index import VectorIndex
from models.lexical import WORDS_FILE, LexicalIndex
from models.registry import ModelVersion, Registry
from models.runtime import OnnxImageEncoder, OnnxTextEncoder
from models.spelling import Speller
from server.schemas import LoadedVersion, PoolStatus

logger = logging.getLogger(__name__)


class UnknownModelError(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown model {name!r}")
        self.name = name
        self.known = known


class ModelLoadError(RuntimeError):
    """A version exists but cannot be served (missing index, mismatched bundle, broken file)."""


@dataclass
class LoadedModel:
    version: str
    bundle_version: str
    spec: str
    text: OnnxTextEncoder | AdaptedTextEncoder
    image: OnnxImageEncoder
    text_index: VectorIndex
    image_index: VectorIndex
    size_bytes: int
    weak_threshold: float | None = None
    index_version: str = ""  # changes whenever the indexed images change; clients key their caches on it
    adapted: bool = False  # text queries go through a query adapter learned from feedback (models/adapter.py)
    words: LexicalIndex | None = None  # word index fused with text search; None for versions built before it
    speller: Speller | None = None  # corrects typed queries; knows the word index's words (models/spelling.py)
    loaded_at: float = field(default_factory=time.time)
    last_used: float = field(default_factory=time.monotonic)
    _positions: dict[str, int] | None = field(default=None, repr=False)
    _image_positions: dict[str, int] | None = field(default=None, repr=False)

    def positions(self) -> dict[str, int]:
        """Image id → row of the text index, built once per loaded version (word hits name ids)."""
        if self._positions is None:
            self._positions = {str(image_id): i for i, image_id in enumerate(self.text_index.ids)}
        return self._positions

    def stored_image_vector(self, image_id: str) -> np.ndarray | None:
        """An indexed image's vector in the image→image space, from the index itself (``None`` if it is not
        indexed): "more like this" never decodes and encodes the original again."""
        if self._image_positions is None:
            self._image_positions = {str(i): p for p, i in enumerate(self.image_index.ids)}
        position = self._image_positions.get(image_id)
        return None if position is None else self.image_index.vector(position)


def index_version(index: VectorIndex) -> str:
    """A short hash of what an index holds (model version, what was blended in, image ids): equal content,
    equal version."""
    digest = hashlib.sha256((index.meta.model_version + index.meta.inputs).encode())
    digest.update("\n".join(index.ids.tolist()).encode())
    return digest.hexdigest()[:12]


def _files_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


class ModelPool:
    def __init__(
        self,
        registry: Registry,
        index_root: Path,
        max_models: int = 2,
        memory_budget_bytes: int = 2 << 30,
        idle_ttl_s: float = 900.0,
        alias_refresh_s: float = 2.0,
        threads: int = 2,
        shown: Callable[[Path], str] = str,
    ) -> None:
        self.registry = registry
        self._shown = shown  # how messages give a path (the container: relative to the project root)
        self.index_root = Path(index_root)
        self.max_models = max_models
        self.memory_budget_bytes = memory_budget_bytes
        self.idle_ttl_s = idle_ttl_s
        self.alias_refresh_s = alias_refresh_s
        self.threads = threads
        self._loaded: OrderedDict[str, LoadedModel] = OrderedDict()
        self._aliases: dict[str, tuple[float, str]] = {}
        self._versions: tuple[float, list[ModelVersion]] | None = None
        self._lock = threading.RLock()
        self._loading: dict[str, threading.Lock] = {}
        self._reported: dict[str, str] = {}  # version → the load failure last logged (logged once, not per request)
        self.evictions = 0

    # ---------------------------------------------------------------- names
    def resolve(self, name: str) -> str:
        """Version number for an alias or number; UnknownModelError lists what exists."""
        now = time.monotonic()
        cached = self._aliases.get(name)
        if cached and now - cached[0] < self.alias_refresh_s:
            return cached[1]
        try:
            version = self.registry.get(name).version
        except KeyError:
            raise UnknownModelError(name, self.known_names()) from None
        self._aliases[name] = (now, version)
        return version

    def versions(self) -> list[ModelVersion]:
        """Registered versions with their aliases, re-read at most every ``alias_refresh_s`` (as aliases are):
        the pages' model list costs a registry query per refresh, not per page."""
        now = time.monotonic()
        cached = self._versions
        if cached is None or now - cached[0] >= self.alias_refresh_s:
            cached = self._versions = (now, self.registry.versions())
        return cached[1]

    def known_names(self) -> list[str]:
        names: list[str] = []
        for item in self.versions():
            names.append(item.version)
            names.extend(item.aliases)
        return sorted(set(names), key=lambda n: (n.isdigit(), int(n) if n.isdigit() else 0, n))

    # ---------------------------------------------------------------- loading
    def peek(self, name: str) -> LoadedModel | None:
        """The version a name resolves to if it is in memory, without loading it or touching its LRU place."""
        version = self.resolve(name)
        with self._lock:
            return self._loaded.get(version)

    def get(self, name: str) -> LoadedModel:
        version = self.resolve(name)
        with self._lock:
            model = self._loaded.get(version)
            if model is not None:
                model.last_used = time.monotonic()
                self._loaded.move_to_end(version)
                return model
            gate = self._loading.setdefault(version, threading.Lock())
        with gate:  # one load per version, other requests for it wait for that load
            with self._lock:
                if version in self._loaded:
                    return self._loaded[version]
            model = self._load(self.registry.get(version))
            with self._lock:
                self._loaded[version] = model
                self._evict(keep=version)
            return model

    def _load_words(self, entry: ModelVersion, path: Path) -> LexicalIndex | None:
        """The version's word index; absent (a version indexed before it existed): dense search alone."""
        if not path.exists():
            logger.info("model pool: version %s has no word index; text search is dense only", entry.version)
            return None
        try:
            return LexicalIndex(path)
        except (ValueError, OSError) as exc:
            self._report(entry.version, f"word index {path} unreadable: {exc}")
            raise ModelLoadError(
                f"model version {entry.version} cannot be served: its word index {self._shown(path)} cannot be "
                "read (truncated or corrupt); rebuild it with: kedro run --pipelines index (or make pipeline)"
            ) from exc

    def _load_index(self, entry: ModelVersion, folder: Path) -> VectorIndex:
        """One of the version's indexes; a missing or unreadable one is a ModelLoadError naming the folder and
        the fix (the Faiss error, with its C++ signature, goes to the log only)."""
        rebuild = "rebuild it with: kedro run --pipelines index (or make pipeline)"
        try:
            return VectorIndex.load(folder)
        except FileNotFoundError as exc:
            self._report(entry.version, f"index {folder} incomplete: {exc}")
            raise ModelLoadError(
                f"model version {entry.version} cannot be served: its index {self._shown(folder)} is missing or "
                f"incomplete; {rebuild}"
            ) from exc
        except Exception as exc:  # faiss (RuntimeError), numpy, JSON: a damaged file either way
            self._report(entry.version, f"index {folder} unreadable: {exc}")
            raise ModelLoadError(
                f"model version {entry.version} cannot be served: its index {self._shown(folder)} cannot be read "
                f"(truncated or corrupt); {rebuild}"
            ) from exc

    def _report(self, version: str, detail: str) -> None:
        """Log why a version failed to load, once per distinct cause (loads are retried on every request)."""
        if self._reported.get(version) != detail:
            self._reported[version] = detail
            logger.error("model pool: version %s: %s", version, detail)

    def _load(self, entry: ModelVersion) -> LoadedModel:
        started = time.perf_counter()
        try:
            bundle_dir = self.registry.bundle_path(entry)
            manifest = BundleManifest.load(bundle_dir)
        except (FileNotFoundError, ValueError, RuntimeError) as exc:
            raise ModelLoadError(f"model version {entry.version} cannot be served: {exc}") from exc
        index_dir = self.index_root / manifest.version
        text_index = self._load_index(entry, index_dir / "text")
        image_index = self._load_index(entry, index_dir / "image")
        for index in (text_index, image_index):
            if index.meta.model_version != manifest.version:
                built_for, bundle = index.meta.model_version, manifest.version
                raise ModelLoadError(f"model version {entry.version}: index built for {built_for}, bundle is {bundle}")
        try:
            text = OnnxTextEncoder(bundle_dir, threads=self.threads, queries=True)
            image = OnnxImageEncoder(bundle_dir, threads=self.threads)
        except Exception as exc:  # ONNX Runtime's own errors for a missing or damaged model file
            self._report(entry.version, f"ONNX bundle {bundle_dir} unreadable: {exc}")
            raise ModelLoadError(
                f"model version {entry.version} cannot be served: its ONNX files in {self._shown(bundle_dir)} "
                "cannot be loaded (missing or corrupt); restore them or register the bundle again"
            ) from exc
        try:
            adapter = load_adapter(bundle_dir, text.dim)  # only text queries: image queries use the image space
        except ValueError as exc:
            raise ModelLoadError(f"model version {entry.version} cannot be served: {exc}") from exc
        if adapter is not None:
            text = AdaptedTextEncoder(text, adapter)
        if text_index.meta.dim != text.dim:
            raise ModelLoadError(
                f"model version {entry.version}: index has {text_index.meta.dim} dims, encoder {text.dim}"
            )
        words = self._load_words(entry, index_dir / WORDS_FILE)
        size = _files_size(bundle_dir) + _files_size(index_dir)
        self._reported.pop(entry.version, None)
        logger.info(
            "model pool: loaded version %s (%s) in %.2f s", entry.version, entry.spec, time.perf_counter() - started
        )
        threshold = entry.metrics.get("weak_threshold")
        return LoadedModel(
            entry.version,
            manifest.version,
            entry.spec,
            text,
            image,
            text_index,
            image_index,
            size,
            threshold,
            index_version=index_version(text_index),
            adapted=adapter is not None,
            words=words,
            speller=Speller(words.has_word if words else None),
        )

    # ---------------------------------------------------------------- eviction
    def _evict(self, keep: str | None = None) -> None:
        """Least recently used first, until within the count and memory limits (never ``keep``)."""

        def over() -> bool:
            total = sum(m.size_bytes for m in self._loaded.values())
            return len(self._loaded) > self.max_models or (total > self.memory_budget_bytes and len(self._loaded) > 1)

        for version in list(self._loaded):
            if not over():
                break
            if version != keep:
                self._unload(version, "limit")

    def unload_idle(self) -> list[str]:
        """Unload versions idle longer than the TTL; called periodically by the app."""
        now = time.monotonic()
        with self._lock:
            idle = [v for v, m in self._loaded.items() if now - m.last_used > self.idle_ttl_s]
            for version in idle:
                self._unload(version, "idle")
        return idle

    def _unload(self, version: str, reason: str) -> None:
        self._loaded.pop(version, None)
        self.evictions += 1
        logger.info("model pool: unloaded version %s (%s)", version, reason)

    # ---------------------------------------------------------------- reporting
    def status(self) -> PoolStatus:
        with self._lock:
            now = time.monotonic()
            loaded = [
                LoadedVersion(
                    version=m.version,
                    spec=m.spec,
                    bundle_version=m.bundle_version,
                    adapted=m.adapted,
                    size_mb=round(m.size_bytes / 2**20, 1),
                    size_bytes=m.size_bytes,
                    idle_seconds=round(now - m.last_used, 1),
                    images=m.text_index.meta.count,
                    index=m.text_index.meta.factory,
                )
                for m in self._loaded.values()
            ]
        return PoolStatus(
            loaded=loaded,
            max_models=self.max_models,
            memory_budget_mb=round(self.memory_budget_bytes / 2**20),
            idle_ttl_seconds=self.idle_ttl_s,
            evictions=self.evictions,
        )
