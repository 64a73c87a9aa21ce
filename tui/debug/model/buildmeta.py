"""A finished build's result files as buildx writes them: ``--iidfile`` and ``--metadata-file``.

Pure data and files: the exporter response (the daemon's ``ExporterResponse`` plus
``buildx.build.ref``) comes in as a mapping of strings.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
from collections.abc import Mapping

from tui.debug.model.gojson import go_dumps

__all__ = ["BUILD_REF_KEY", "build_ref", "image_id", "metadata_json", "remove_stale",
           "write_atomic", "write_result_files"]

#: The key buildx adds to the exporter response: ``<builder>/<node>/<solve ref>``.
BUILD_REF_KEY = "buildx.build.ref"

_CONFIG_DIGEST = "containerimage.config.digest"
_IMAGE_DIGEST = "containerimage.digest"

def build_ref(builder: str, ref: str) -> str:
    """``buildx.build.ref``'s value: the builder is its own single node (buildx's docker driver)."""
    return f"{builder}/{builder}/{ref}"


def image_id(exporter: Mapping[str, str]) -> str:
    """The image ID: the config digest, else the image (manifest) digest, else ``""``."""
    return exporter.get(_CONFIG_DIGEST) or exporter.get(_IMAGE_DIGEST, "")


def _decoded(value: str) -> object:
    """``value`` itself, or the non-empty JSON object it base64-encodes (as buildx embeds it)."""
    try:
        raw = base64.b64decode(value, validate=True)
        doc = json.loads(raw)
    except (binascii.Error, ValueError):
        return value
    return doc if isinstance(doc, dict) and doc else value


def metadata_json(exporter: Mapping[str, str]) -> str:
    """The ``--metadata-file`` text: one object, sorted keys, 2-space indent, no final newline."""
    doc = {key: _decoded(exporter[key]) for key in sorted(exporter)}
    return go_dumps(doc, indent=2)


def remove_stale(path: str, what: str) -> None:
    """Remove ``path`` before the build so that a failure leaves no stale file (OSError: why)."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise OSError(f"removing {what}: {exc.strerror or exc}: {path}") from None


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` (mode 0644) through a temporary file renamed over it."""
    folder = os.path.dirname(os.path.abspath(path))
    import tempfile  # only when a file is written (start-up time counts)

    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{os.path.basename(path)}", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def write_result_files(exporter: Mapping[str, str], iidfile: str | None,
                       metadata_file: str | None) -> None:
    """Write ``--iidfile`` (the ID, no newline) and ``--metadata-file``; OSError says which."""
    if iidfile:
        try:
            with open(iidfile, "w", encoding="utf-8") as f:
                f.write(image_id(exporter))
        except OSError as exc:
            raise OSError(f"writing image ID file: {exc.strerror or exc}: {iidfile}") from None
    if metadata_file:
        try:
            write_atomic(metadata_file, metadata_json(exporter))
        except OSError as exc:
            raise OSError(f"writing metadata file: {exc.strerror or exc}: {metadata_file}") \
                from None
