"""buildx's parsing of --shm-size, --ulimit, --annotation and the attestation flags."""

from __future__ import annotations

import pytest

from tui.debug.model.buildflags import (
    Ulimit,
    annotation_attrs,
    attest_attrs,
    parse_mem_bytes,
    parse_ulimit,
    ulimit_attr,
)
from tui.debug.model.usage import OptionsError


@pytest.mark.parametrize(("text", "size"), [
    ("512", 512), ("64m", 64 << 20), ("64M", 64 << 20), ("1.5g", 3 << 29), ("2 KiB", 2048),
    ("1gb", 1 << 30), ("0", 0),
])
def test_mem_bytes(text: str, size: int) -> None:
    assert parse_mem_bytes(text) == size


@pytest.mark.parametrize("text", ["12q", "", "m", "-1", "1.2.3"])
def test_mem_bytes_refused(text: str) -> None:
    with pytest.raises(OptionsError, match=f'^invalid argument "{text}" for "--shm-size" flag'):
        parse_mem_bytes(text)


def test_ulimits() -> None:
    assert parse_ulimit("nofile=1024:2048") == Ulimit("nofile", 1024, 2048)
    assert parse_ulimit("core=0") == Ulimit("core", 0, 0)
    assert parse_ulimit("memlock=-1:-1") == Ulimit("memlock", -1, -1)
    assert parse_ulimit("nproc=5:-1") == Ulimit("nproc", 5, -1)
    # the last value per resource is sent, as buildx's map keeps it
    limits = [parse_ulimit("nofile=1:2"), parse_ulimit("core=0"), parse_ulimit("nofile=3:4")]
    assert ulimit_attr(limits) == "nofile=3:4,core=0:0"


@pytest.mark.parametrize(("text", "why"), [
    ("nofile", "invalid ulimit argument: nofile"),
    ("bogus=1", "invalid ulimit type: bogus"),
    ("nofile=x", 'strconv.ParseInt: parsing "x": invalid syntax'),
    ("nofile=1:2:3", "too many limit value arguments - 1:2:3"),
    ("nofile=10:5", "ulimit soft limit must be less than or equal to hard limit: 10 > 5"),
])
def test_ulimit_refused(text: str, why: str) -> None:
    with pytest.raises(OptionsError) as exc:
        parse_ulimit(text)
    assert str(exc.value).startswith(f'invalid argument "{text}" for "--ulimit" flag: {why}')


def test_annotations() -> None:
    assert annotation_attrs(["a=1", "manifest:b=2", "index,manifest-descriptor:c=3",
                             "manifest[linux/amd64]:d=4", "e=x=y"]) == {
        "annotation.a": "1", "annotation-manifest.b": "2", "annotation-index.c": "3",
        "annotation-manifest-descriptor.c": "3", "annotation-manifest[linux/amd64].d": "4",
        "annotation.e": "x=y"}
    for bad, why in (("a", "expected key=value"), ("bogus:a=1", "unknown annotation type"),
                     ("Man:a=1", "invalid annotation type")):
        with pytest.raises(OptionsError, match=why):
            annotation_attrs([bad])


def test_attestations() -> None:
    assert attest_attrs([], "true", "mode=max") == {
        "attest:sbom": "type=sbom,disabled=false", "attest:provenance": "type=provenance,mode=max"}
    assert attest_attrs(["type=sbom,generator=x"], None, "false") == {
        "attest:sbom": "type=sbom,generator=x"}  # provenance disabled: not sent
    with pytest.raises(OptionsError, match="duplicate attestation field sbom"):
        attest_attrs(["type=sbom"], "1", None)
    with pytest.raises(OptionsError, match="attestation type not specified"):
        attest_attrs(["mode=max"], None, None)
