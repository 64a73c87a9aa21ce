"""The metadata file's encoding follows buildx's decodeExporterResponse and Go's JSON."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tui.debug.model.buildmeta import image_id, metadata_json, remove_stale, write_atomic


def _b64(doc: object) -> str:
    return base64.b64encode(json.dumps(doc).encode()).decode()


def test_embeds_base64_json_objects_only() -> None:
    desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 2, "z": 1,
            "a": "<&>"}
    text = metadata_json({
        "containerimage.descriptor": _b64(desc),
        "b.list": _b64([1, 2]),            # v0.13 embeds objects only
        "c.empty": _b64({}),
        "a.plain": "sha256:00",
        "d.word": "moby",                  # base64 of bytes that are no JSON
    })
    doc = json.loads(text)
    assert list(doc) == ["a.plain", "b.list", "c.empty", "containerimage.descriptor", "d.word"]
    assert doc["containerimage.descriptor"] == desc
    assert list(doc["containerimage.descriptor"]) == list(desc)  # inner order kept, as RawMessage
    assert doc["b.list"] == _b64([1, 2]) and doc["c.empty"] == _b64({})
    assert "\\u003c\\u0026\\u003e" in text and not text.endswith("\n")
    assert '\n  "a.plain": "sha256:00",\n' in text


def test_empty_response_and_image_id() -> None:
    assert metadata_json({}) == "{}"
    assert image_id({}) == ""
    assert image_id({"containerimage.digest": "sha256:m"}) == "sha256:m"
    assert image_id({"containerimage.digest": "sha256:m",
                     "containerimage.config.digest": "sha256:c"}) == "sha256:c"


def test_write_atomic_replaces_and_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "meta.json"
    path.write_text("old")
    write_atomic(str(path), "{}")
    assert path.read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == ["meta.json"]
    with pytest.raises(OSError):
        write_atomic(str(tmp_path / "no" / "x"), "{}")


def test_remove_stale(tmp_path: Path) -> None:
    remove_stale(str(tmp_path / "absent"), "image ID file")  # nothing to remove: fine
    (tmp_path / "d" / "e").mkdir(parents=True)
    with pytest.raises(OSError, match=r"removing image ID file: .*d$"):
        remove_stale(str(tmp_path / "d"), "image ID file")
