"""``--push`` on a Docker Engine builder: the engine pushes each tag after the solve.

The graphdriver engine's ``moby`` exporter never pushes; as buildx's docker driver does, every
name is pushed through the Engine API (``POST /images/NAME/push?tag=TAG`` with the registry's
credentials from the docker config in ``X-Registry-Auth``), shown as one step per name.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from google.protobuf.timestamp_pb2 import Timestamp

from tui.buildkit import debuglog
from tui.buildkit.address import Endpoint
from tui.buildkit.engineapi import EngineAPIError, error_message, request
from tui.buildkit.errors import BuildError, PostSolveError
from tui.buildkit.proto import control_pb2
from tui.buildkit.session.auth import CredentialsError, lookup_credentials

if TYPE_CHECKING:
    from tui.debug.engine.build import StatusCallback



@dataclass(frozen=True)
class ImageRef:
    """A tag split as the engine's push endpoint takes it."""

    repository: str
    tag: str
    host: str

    @property
    def name(self) -> str:
        """``repository:tag``."""
        return f"{self.repository}:{self.tag}"


def parse_ref(ref: str) -> ImageRef:
    """``[HOST[:PORT]/]PATH[:TAG]``; the host is ``docker.io`` when the first part names none."""
    name = ref.split("@", 1)[0]
    repo, tag = name, "latest"
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        repo, tag = name[:colon], name[colon + 1:]
    first, sep, _ = repo.partition("/")
    host = first if sep and ("." in first or ":" in first or first == "localhost") else "docker.io"
    return ImageRef(repo, tag, host)


async def registry_auth(host: str, environ: Mapping[str, str]) -> str:
    """The ``X-Registry-Auth`` value for ``host`` (URL-safe base64 JSON, as the docker CLI)."""
    user, secret = await lookup_credentials(host, environ)
    server = "https://index.docker.io/v1/" if host == "docker.io" else host
    cfg: dict[str, str] = {"serveraddress": server}
    if user:
        cfg.update(username=user, password=secret)
    elif secret:
        cfg["identitytoken"] = secret
    if secret:
        debuglog.register_secret(secret)
    value = base64.urlsafe_b64encode(json.dumps(cfg).encode()).decode()
    debuglog.register_secret(value)
    return value


class _PushStep:
    """The step shown for one pushed name: a vertex and a status per layer."""

    def __init__(self, ref: str, on_status: StatusCallback | None) -> None:
        seed = f"push {ref} {secrets.token_hex(8)}".encode()
        self.digest = "sha256:" + hashlib.sha256(seed).hexdigest()
        self.name = f"pushing {ref} with docker"
        self.on_status = on_status
        self.started = _now()
        self.open_layers: dict[str, None] = {}

    def vertex(self, *, done: bool = False, error: str = "") -> None:
        for layer in list(self.open_layers):  # a step with open statuses never ends
            self.layer(layer, {"status": "Pushed"})
        v = control_pb2.Vertex(digest=self.digest, name=self.name, error=error)
        v.started.CopyFrom(self.started)
        if done or error:
            v.completed.CopyFrom(_now())
        self._send(control_pb2.StatusResponse(vertexes=[v]))

    def layer(self, layer: str, item: Mapping[str, object]) -> None:
        state = str(item.get("status", ""))
        st = control_pb2.VertexStatus(ID=f"pushing layer {layer}", vertex=self.digest)
        st.started.CopyFrom(self.started)
        st.timestamp.CopyFrom(_now())
        detail = item.get("progressDetail")
        if isinstance(detail, dict):
            st.current = int(detail.get("current") or 0)
            st.total = int(detail.get("total") or 0)
        if state in ("Pushed", "Layer already exists") or state.startswith("Mounted from"):
            st.completed.CopyFrom(_now())
            self.open_layers.pop(layer, None)
        else:
            self.open_layers[layer] = None
        self._send(control_pb2.StatusResponse(statuses=[st]))

    def _send(self, resp: control_pb2.StatusResponse) -> None:
        if self.on_status is not None:
            self.on_status(resp)


def _now() -> Timestamp:
    ts = Timestamp()
    ts.FromNanoseconds(time.time_ns())
    return ts


async def push_image(endpoint: Endpoint, ref: str, environ: Mapping[str, str],
                     on_status: StatusCallback | None = None) -> str:
    """Push ``ref`` from the engine's store; its manifest digest. Raises BuildError."""
    image = parse_ref(ref)
    step = _PushStep(ref, on_status)
    step.vertex()
    try:
        auth = await registry_auth(image.host, environ)
    except CredentialsError as exc:
        step.vertex(error=str(exc))
        raise PostSolveError(str(exc)) from None
    path = f"/images/{quote(image.repository, safe='/:')}/push?tag={quote(image.tag, safe='')}"
    digest = ""
    try:
        async with request(endpoint, "POST", path, [("X-Registry-Auth", auth)]) as resp:
            if resp.status != 200:
                raise PostSolveError(await error_message(resp))
            async for item in resp.lines():
                err = item.get("error")
                if err:
                    raise PostSolveError(str(err))
                aux = item.get("aux")
                if isinstance(aux, dict) and aux.get("Digest"):
                    digest = str(aux["Digest"])
                layer = item.get("id")
                if isinstance(layer, str) and layer and layer != image.tag:
                    step.layer(layer, item)
    except (EngineAPIError, OSError) as exc:
        step.vertex(error=str(exc))
        raise PostSolveError(str(exc)) from None
    except BuildError as exc:
        step.vertex(error=exc.message)
        raise
    step.vertex(done=True)
    debuglog.LOG.debug("pushed %s: %s", ref, digest or "no digest reported")
    return digest


async def push_images(endpoint: Endpoint, refs: list[str], environ: Mapping[str, str],
                      on_status: StatusCallback | None = None) -> dict[str, str]:
    """Push every name in turn (buildx's order); each name's manifest digest."""
    return {ref: await push_image(endpoint, ref, environ, on_status) for ref in refs}
