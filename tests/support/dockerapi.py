"""A tiny Docker Engine API client for assertions in tests (stdlib only)."""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import quote

from tui.buildkit.address import parse_address


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("docker", timeout=30)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(self._path)
        self.sock = sock


class DockerAPI:
    """GET/POST/DELETE JSON against a unix-socket Docker daemon."""

    def __init__(self, docker_host: str) -> None:
        ep = parse_address(docker_host, "docker", "test")
        self.path = ep.location

    def request(self, method: str, url: str, body: bytes | None = None) -> tuple[int, Any]:
        conn = _UnixHTTPConnection(self.path)
        try:
            conn.request(method, url, body=body)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(data) if data else None
        except ValueError:
            return resp.status, data

    def image(self, name: str) -> dict[str, Any] | None:
        status, data = self.request("GET", f"/images/{quote(name, safe='')}/json")
        return data if status == 200 else None

    def remove_image(self, name: str) -> None:
        self.request("DELETE", f"/images/{quote(name, safe='')}?force=1")

    def containers(self) -> list[dict[str, Any]]:
        status, data = self.request("GET", "/containers/json?all=1")
        assert status == 200, data
        return list(data)
