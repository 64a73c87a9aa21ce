"""buildx's stored builder instances: the config directory, read-only.

Layout (docker/buildx ``store/``): ``instances/<lower-cased name>`` holds one JSON document per
builder (Go field names: ``Name``, ``Driver``, ``Nodes`` of ``Name``/``Endpoint``/``DriverOpts``);
``current`` holds ``{"Key", "Name", "Global"}``; ``defaults/<hash(Key)>`` the name chosen by
``buildx use --default``.  bxtui never writes there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

__all__ = ["BuildxStore", "Driver", "Instance", "Node", "StoreError", "store_root"]


class StoreError(ValueError):
    """An instance file that cannot be used (unreadable JSON, unknown driver, no node)."""


class Driver(StrEnum):
    """buildx's drivers."""

    DOCKER = "docker"
    DOCKER_CONTAINER = "docker-container"
    REMOTE = "remote"
    KUBERNETES = "kubernetes"


@dataclass(frozen=True)
class Node:
    """One node of an instance: its name, endpoint and driver options."""

    name: str
    endpoint: str
    driver_opts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Instance:
    """A stored builder: bxtui builds on its first node, as buildx does for one platform."""

    name: str
    driver: Driver
    nodes: tuple[Node, ...]

    @property
    def node(self) -> Node:
        """The node a build goes to."""
        return self.nodes[0]


def store_root(env: Mapping[str, str]) -> Path:
    """``$BUILDX_CONFIG``, else ``buildx/`` in docker's config directory."""
    if env.get("BUILDX_CONFIG"):
        return Path(env["BUILDX_CONFIG"])
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"]) / "buildx"
    return Path(env.get("HOME") or Path.home()) / ".docker" / "buildx"


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def _parse(name: str, text: str) -> Instance:
    try:
        doc = json.loads(text)
        driver = Driver(doc["Driver"])
        nodes = tuple(
            Node(str(n["Name"]), str(n["Endpoint"]),
                 {str(k): str(v) for k, v in (n.get("DriverOpts") or {}).items()})
            for n in doc.get("Nodes") or ()
        )
        real_name = str(doc.get("Name") or name)
    except ValueError as exc:
        raise StoreError(f"builder {name!r}: unreadable instance file ({exc})") from None
    except (KeyError, TypeError, AttributeError):
        raise StoreError(f"builder {name!r}: malformed instance file") from None
    if not nodes:
        raise StoreError(f"builder {name!r} has no nodes")
    return Instance(real_name, driver, nodes)


@dataclass(frozen=True)
class BuildxStore:
    """Reads buildx's config directory ``root``."""

    root: Path

    def get(self, name: str) -> Instance | None:
        """The instance called ``name`` (case-insensitive, as buildx stores it), or None."""
        path = self.root / "instances" / name.lower()
        try:
            text = path.read_text()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise StoreError(f"builder {name!r}: cannot read {path}: {exc.strerror}") from None
        return _parse(name, text)

    def selected(self, key: str) -> str | None:
        """The builder ``docker buildx use`` chose for context key ``key``, or None.

        ``current`` wins when global or for the same key; else ``defaults/<hash(key)>``.
        """
        try:
            cur = json.loads((self.root / "current").read_text())
        except (OSError, ValueError):
            cur = None
        named = isinstance(cur, dict) and isinstance(cur.get("Name"), str) and bool(cur["Name"])
        if named and (cur.get("Global") is True or cur.get("Key") == key):
            return str(cur["Name"])
        try:
            name = (self.root / "defaults" / _key_hash(key)).read_text().strip()
        except OSError:
            return None
        return name or None
