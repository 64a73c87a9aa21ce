"""``docker buildx build``'s resource, annotation and attestation flags, parsed as buildx does.

Pure values: ``--shm-size`` (go-units' RAMInBytes), ``--ulimit`` (go-units' ParseUlimit, sent
as BuildKit's ``name=soft:hard`` list), ``--annotation`` (exporter attributes) and
``--attest``/``--sbom``/``--provenance`` (frontend ``attest:TYPE`` attributes). Errors carry
buildx's words, wrapped as cobra wraps a flag's error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tui.debug.model.usage import OptionsError

__all__ = [
    "ATTESTATIONS_UNSUPPORTED",
    "Ulimit",
    "annotation_attrs",
    "attest_attrs",
    "parse_mem_bytes",
    "parse_ulimit",
    "ulimit_attr",
]

_SIZE = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_BINARY = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_ULIMIT_NAMES = frozenset({
    "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
    "rss", "rtprio", "rttime", "sigpending", "stack",
})
_GO_INT64 = re.compile(r"^[+-]?\d+$")
_ANNOTATION_TYPE = re.compile(r"^([a-z-]+)(?:\[([A-Za-z0-9_/-]+)\])?$")
_ANNOTATION_TYPES = frozenset({"index", "index-descriptor", "manifest", "manifest-descriptor"})
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})

#: buildx's refusal on a Docker Engine without the containerd image store, on one line.
ATTESTATIONS_UNSUPPORTED = (
    "Attestation is not supported for the docker driver. Switch to a different driver, or "
    "turn on the containerd image store, and try again. Learn more at "
    "https://docs.docker.com/go/attestations/")


def _flag_error(value: str, flag: str, why: str) -> OptionsError:
    return OptionsError(f'invalid argument "{value}" for "{flag}" flag: {why}')


def parse_mem_bytes(value: str, flag: str = "--shm-size") -> int:
    """Bytes of a size such as ``64m``, ``1.5g`` or ``512`` (binary multiples, as docker's)."""
    m = _SIZE.match(value)
    if m is None:
        raise _flag_error(value, flag, f"invalid size: '{value}'")
    try:
        size = float(m.group(1))
    except ValueError:  # "1.2.3": the pattern allows it, Go's ParseFloat does not
        raise _flag_error(value, flag, f'strconv.ParseFloat: parsing "{m.group(1)}": '
                          "invalid syntax") from None
    unit = (m.group(2) or "").lower()
    return int(size * _BINARY.get(unit, 1))


@dataclass(frozen=True)
class Ulimit:
    """One ``--ulimit``: a resource's soft and hard limits (-1: unlimited)."""

    name: str
    soft: int
    hard: int

    def __str__(self) -> str:
        return f"{self.name}={self.soft}:{self.hard}"


def _go_int(text: str, value: str) -> int:
    if not _GO_INT64.match(text) or not -(1 << 63) <= int(text) < (1 << 63):
        why = "invalid syntax" if not _GO_INT64.match(text) else "value out of range"
        raise _flag_error(value, "--ulimit", f'strconv.ParseInt: parsing "{text}": {why}')
    return int(text)


def parse_ulimit(value: str) -> Ulimit:
    """``NAME=SOFT[:HARD]`` (HARD defaults to SOFT)."""
    name, sep, limits = value.partition("=")
    if not sep:
        raise _flag_error(value, "--ulimit", f"invalid ulimit argument: {value}")
    if name not in _ULIMIT_NAMES:
        raise _flag_error(value, "--ulimit", f"invalid ulimit type: {name}")
    parts = limits.split(":")
    if len(parts) > 2:
        raise _flag_error(value, "--ulimit", f"too many limit value arguments - {limits}, can "
                          "only have up to two, `soft[:hard]`")
    hard = _go_int(parts[1], value) if len(parts) == 2 else None
    soft = _go_int(parts[0], value)
    if hard is None:
        hard = soft
    if hard != -1 and soft > hard:
        raise _flag_error(value, "--ulimit", "ulimit soft limit must be less than or equal to "
                          f"hard limit: {soft} > {hard}")
    return Ulimit(name, soft, hard)


def ulimit_attr(ulimits: Sequence[Ulimit]) -> str:
    """The ``ulimit`` frontend attribute: one entry per resource (the last one given wins)."""
    last = {u.name: u for u in ulimits}
    return ",".join(str(u) for u in last.values())


def annotation_attrs(values: Iterable[str]) -> dict[str, str]:
    """Exporter attributes of ``--annotation [TYPE[PLATFORM],...:]KEY=VALUE`` values."""
    out: dict[str, str] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep:
            raise OptionsError(f'invalid annotation "{value}", expected key=value')
        types, colon, name = key.partition(":")
        if not colon:
            out[f"annotation.{key}"] = text
            continue
        for item in types.split(","):
            m = _ANNOTATION_TYPE.match(item)
            if m is None:
                raise OptionsError(f'invalid annotation type "{item}"')
            kind, platform = m.group(1), m.group(2)
            if kind not in _ANNOTATION_TYPES:
                raise OptionsError(f'unknown annotation type "{kind}"')
            where = f"[{platform}]" if platform else ""
            out[f"annotation-{kind}{where}.{name}"] = text
    return out


def _go_bool(text: str) -> bool | None:
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    return None


def _attest_type(spec: str) -> str:
    for field in spec.split(","):
        k, _, v = field.partition("=")
        if k.strip() == "type":
            return v.strip()
    raise OptionsError("attestation type not specified")


def _disabled(spec: str) -> bool:
    for field in spec.split(","):
        k, _, v = field.partition("=")
        if k.strip() == "disabled":
            return _go_bool(v.strip()) is True
    return False


def attest_attrs(attests: Sequence[str], sbom: str | None,
                 provenance: str | None) -> dict[str, str]:
    """Frontend ``attest:TYPE`` attributes; disabled attestations are left out."""
    specs = list(attests)
    for kind, value in (("sbom", sbom), ("provenance", provenance)):
        if value is None:
            continue
        flag = _go_bool(value)
        specs.append(f"type={kind},disabled={str(not flag).lower()}" if flag is not None
                     else f"type={kind},{value}")
    out: dict[str, str] = {}
    for spec in specs:
        kind = _attest_type(spec)
        if kind in out:
            raise OptionsError(f"duplicate attestation field {kind}")
        out[kind] = spec
    return {f"attest:{k}": v for k, v in out.items() if not _disabled(v)}
