"""On-disk cache of built TensorRT engines, free of TensorRT so it can be tested anywhere.

One file per engine, named after the model and precision plus a digest of everything the serialised engine
depends on (model sha256, TensorRT version, GPU name and compute capability, precision, DLA core, shape
profile, calibration data). A JSON sidecar beside each engine lets ``fea-ros engines list`` describe the
cache without TensorRT. Files are written to a temporary name in the same folder and moved into place with
``os.replace``, so a reader never sees half an engine, even when two processes build at once.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, TypeVar

from fea_ros.inference.errors import BackendError

log = logging.getLogger(__name__)
T = TypeVar("T")

ENGINE_SUFFIX = ".engine"
META_SUFFIX = ".json"
PRECISIONS = ("fp32", "fp16", "int8")


class EngineCacheError(BackendError):
    """An engine could not be built, stored or loaded."""


def default_cache_dir() -> Path:
    """~/.cache/fea_ros/engines, or under $XDG_CACHE_HOME when that is set."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fea_ros" / "engines"


@dataclass(frozen=True)
class EngineKey:
    """Everything a serialised engine depends on; a change in any field means a different file."""

    model: str
    model_sha256: str
    trt_version: str
    gpu_name: str
    compute_capability: str  # "8.7" for Orin
    precision: str
    dla_core: int | None = None
    max_batch: int = 1  # upper bound of the optimisation profile on a dynamic batch axis
    calibration_digest: str = ""  # INT8 only: which images calibrated it

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise EngineCacheError(f"unknown precision '{self.precision}'; use one of {', '.join(PRECISIONS)}")

    def digest(self) -> str:
        canonical = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def file_name(self) -> str:
        device = f"_dla{self.dla_core}" if self.dla_core is not None else ""
        return f"{self.model}_{self.precision}{device}_{self.digest()[:16]}{ENGINE_SUFFIX}"


@dataclass
class CacheEntry:
    """One engine file in the cache, as ``fea-ros engines list`` shows it."""

    path: Path
    size_bytes: int
    created: str
    key: EngineKey | None  # None when the sidecar is missing or unreadable


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` holds either the old content or all of the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


class EngineCache:
    """A folder of engines. ``load_or_build`` is the only way engines get in or out.

    ``hits``, ``builds`` and ``rebuilds`` count what happened, so callers and tests can tell a cache hit
    from a build without timing anything.
    """

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory).expanduser() if directory else default_cache_dir()
        self.hits = 0
        self.builds = 0
        self.rebuilds = 0

    def path_for(self, key: EngineKey) -> Path:
        return self.directory / key.file_name()

    def load_or_build(self, key: EngineKey, build: Callable[[], bytes], load: Callable[[bytes], T]) -> T:
        """The loaded engine for ``key``: from the cache when its file loads, else built, stored, loaded.

        ``load`` must raise (or return None) when the bytes are not a usable engine; the file is then
        rebuilt with a warning. A freshly built engine that does not load is an error.
        """
        path = self.path_for(key)
        if path.is_file():
            try:
                engine = load(path.read_bytes())
                if engine is None:
                    raise EngineCacheError("the loader returned nothing")
            except Exception as exc:  # any failure to deserialise means: build it again
                log.warning("engine cache file %s for %s (%s) did not load (%s); rebuilding it",
                            path, key.model, key.precision, exc)
                path.unlink(missing_ok=True)
                self.rebuilds += 1
            else:
                self.hits += 1
                log.info("%s: using cached TensorRT engine %s", key.model, path)
                return engine
        log.info("%s: building a %s TensorRT engine (TensorRT %s, %s); this can take minutes, once",
                 key.model, key.precision, key.trt_version, key.gpu_name)
        started = time.monotonic()
        data = build()
        if not data:
            raise EngineCacheError(f"{key.model}: the TensorRT build produced no engine; see the log above")
        self.store(key, data)
        self.builds += 1
        log.info("%s: engine built in %.1f s and cached as %s (%.1f MB)", key.model,
                 time.monotonic() - started, path, len(data) / 1e6)
        engine = load(data)
        if engine is None:
            raise EngineCacheError(f"{key.model}: a freshly built engine could not be deserialised")
        return engine

    def store(self, key: EngineKey, data: bytes) -> Path:
        path = self.path_for(key)
        atomic_write_bytes(path, data)
        meta = {"key": asdict(key), "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "size_bytes": len(data)}
        atomic_write_bytes(path.with_suffix(META_SUFFIX), json.dumps(meta, indent=1).encode("utf-8"))
        return path

    def entries(self) -> list[CacheEntry]:
        """Every engine file in the folder, newest first; temporary files of running builds are skipped."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.glob(f"*{ENGINE_SUFFIX}"):
            if path.name.startswith("."):
                continue
            key, created = _read_sidecar(path.with_suffix(META_SUFFIX))
            stat = path.stat()
            if not created:
                created = datetime.fromtimestamp(stat.st_mtime, timezone.utc).isoformat(timespec="seconds")
            found.append(CacheEntry(path=path, size_bytes=stat.st_size, created=created, key=key))
        return sorted(found, key=lambda entry: entry.created, reverse=True)


def _read_sidecar(path: Path) -> tuple[EngineKey | None, str]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        return EngineKey(**meta["key"]), str(meta.get("created", ""))
    except (OSError, ValueError, KeyError, TypeError, EngineCacheError):
        return None, ""


@dataclass
class BuildProgressLog:
    """Turns TensorRT's build phases into log lines, at most one per ``interval_s`` for each phase.

    The TensorRT IProgressMonitor subclass forwards its three callbacks here, so the logic is testable
    without TensorRT. TensorRT calls these from several threads, hence the lock.
    """

    model: str
    interval_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    _phases: dict[str, tuple[int, float]] = field(default_factory=dict)  # name -> (steps, last log time)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    lines: int = 0

    def phase_start(self, phase: str, parent: str | None, num_steps: int) -> None:
        with self._lock:
            self._phases[phase] = (num_steps, self.clock())
            depth = 1 if parent else 0
        self._log("%s%s (%d steps)", "  " * depth, phase, num_steps)

    def step_complete(self, phase: str, step: int) -> bool:
        with self._lock:
            steps, last = self._phases.get(phase, (0, 0.0))
            now = self.clock()
            due = now - last >= self.interval_s
            if due:
                self._phases[phase] = (steps, now)
        if due:
            self._log("%s: step %d/%d", phase, step + 1, steps)
        return True  # False would cancel the build

    def phase_finish(self, phase: str) -> None:
        with self._lock:
            self._phases.pop(phase, None)

    def _log(self, message: str, *args: object) -> None:
        self.lines += 1
        log.info("%s build: " + message, self.model, *args)


class BuildHeartbeat:
    """Logs "still building" every ``interval_s`` from a daemon thread while a build runs.

    For TensorRT builds without a progress monitor, so a long silent build does not look hung.
    """

    def __init__(self, model: str, interval_s: float = 15.0) -> None:
        self.model = model
        self.interval_s = interval_s
        self.beats = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "BuildHeartbeat":
        started = time.monotonic()

        def beat() -> None:
            while not self._stop.wait(self.interval_s):
                self.beats += 1
                log.info("%s build: still building (%.0f s)", self.model, time.monotonic() - started)

        self._thread = threading.Thread(target=beat, name=f"build-heartbeat-{self.model}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
