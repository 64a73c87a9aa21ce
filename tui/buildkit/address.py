"""Choosing the builder: where BuildKit listens and how to reach it, as buildx decides."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tui.buildkit.instances import BuildxStore, Driver, Instance, StoreError, store_root

DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock"


class AddressError(ValueError):
    """A builder address or name that cannot be used."""


@dataclass(frozen=True)
class TLSFiles:
    """Client TLS material (paths), as buildctl's --tlscacert/--tlscert/--tlskey name them."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    server_name: str | None = None
    verify: bool = True
    """Check the server's certificate (off for the docker CLI's DOCKER_TLS without _VERIFY)."""

    def read(self) -> tuple[bytes | None, bytes | None, bytes | None]:
        """Return (ca, key, cert) bytes; raise AddressError naming a missing file."""

        def load(path: str | None) -> bytes | None:
            if path is None:
                return None
            try:
                return Path(path).read_bytes()
            except OSError as exc:
                raise AddressError(f"cannot read TLS file {path}: {exc.strerror}") from None

        return load(self.ca), load(self.key), load(self.cert)


@dataclass(frozen=True)
class Endpoint:
    """A resolved builder.

    ``kind`` is ``"docker"`` (a Docker Engine API: BuildKit behind ``/grpc`` and ``/session``)
    or ``"buildkitd"`` (plain gRPC).  ``scheme`` is ``unix`` or ``tcp``; ``location`` is the
    socket path or ``host:port``.  ``source`` says which rule chose it (for messages).
    """

    kind: str
    scheme: str
    location: str
    source: str
    tls: TLSFiles | None = None
    dial: ContainerDial | KubectlDial | None = None
    """For a builder reached by running ``buildctl dial-stdio`` somewhere (buildx's
    ``docker-container`` and ``kubernetes`` drivers); None for a socket address."""

    @property
    def url(self) -> str:
        """The address as a URL, e.g. ``unix:///var/run/docker.sock``."""
        return f"{self.scheme}://{self.location}"

    def describe(self) -> str:
        """Human text naming the address and what chose it."""
        what = "Docker Engine" if self.kind == "docker" else "buildkitd"
        return f"{what} at {self.url} (from {self.source})"


@dataclass(frozen=True)
class ContainerDial:
    """``buildctl dial-stdio`` run in ``container`` through the exec API of ``docker``."""

    docker: Endpoint
    container: str
    builder: str
    """The buildx instance's name (for messages)."""


@dataclass(frozen=True)
class KubectlDial:
    """``buildctl dial-stdio`` run by ``kubectl exec`` in a pod of ``deployment``."""

    deployment: str
    builder: str
    namespace: str | None = None
    kubeconfig: str | None = None
    container: str = "buildkitd"

    def kubectl_args(self) -> list[str]:
        """Kubectl's global options selecting the cluster and namespace."""
        args = []
        if self.kubeconfig:
            args.append(f"--kubeconfig={self.kubeconfig}")
        if self.namespace:
            args.append(f"--namespace={self.namespace}")
        return args


def parse_address(addr: str, kind: str, source: str, tls: TLSFiles | None = None) -> Endpoint:
    """Parse ``unix:///path``, ``tcp://host:port`` (or ``host:port``) into an Endpoint."""
    if not addr:
        raise AddressError(f"empty builder address (from {source})")
    if "://" not in addr:
        addr = ("unix://" if addr.startswith("/") else "tcp://") + addr
    parts = urlsplit(addr)
    scheme = parts.scheme.lower()
    if scheme == "unix":
        path = parts.path or parts.netloc
        if not path:
            raise AddressError(f"invalid address {addr!r} (from {source}): no socket path")
        return Endpoint(kind, "unix", path, source, tls)
    if scheme in ("tcp", "http", "https"):
        if not parts.hostname:
            raise AddressError(f"invalid address {addr!r} (from {source}): no host")
        try:
            port = parts.port
        except ValueError:
            raise AddressError(f"invalid address {addr!r} (from {source}): bad port") from None
        if port is None:
            port = 2376 if (kind == "docker" and tls) else (2375 if kind == "docker" else 1234)
        host = parts.hostname
        hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        return Endpoint(kind, "tcp", hostport, source, tls)
    raise AddressError(
        f"unsupported address {addr!r} (from {source}): use unix:///path or tcp://host:port"
    )


def _docker_config_dir(env: Mapping[str, str]) -> Path:
    if env.get("DOCKER_CONFIG"):
        return Path(env["DOCKER_CONFIG"])
    return Path(env.get("HOME", str(Path.home()))) / ".docker"


def _docker_tls(env: Mapping[str, str], cert_dir: Path | None = None) -> TLSFiles | None:
    verify = bool(env.get("DOCKER_TLS_VERIFY")) or cert_dir is not None
    if not verify and not env.get("DOCKER_TLS"):
        return None
    base = cert_dir or Path(env.get("DOCKER_CERT_PATH") or _docker_config_dir(env))

    def present(name: str) -> str | None:  # the docker CLI leaves out a file that is missing
        path = base / name
        return str(path) if path.exists() else None

    return TLSFiles(present("ca.pem"), present("cert.pem"), present("key.pem"), verify=verify)


def _context_endpoint(name: str, env: Mapping[str, str], source: str) -> Endpoint:
    """The Docker endpoint of a docker CLI context (``default`` is DOCKER_HOST or the socket)."""
    if name == "default":
        host = env.get("DOCKER_HOST")
        if host:
            return parse_address(host, "docker", "DOCKER_HOST", _docker_tls(env))
        return Endpoint("docker", "unix", DEFAULT_DOCKER_SOCKET, "the default Docker socket")
    cfg = _docker_config_dir(env)
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = cfg / "contexts" / "meta" / digest / "meta.json"
    try:
        data = json.loads(meta.read_text())
        host = data["Endpoints"]["docker"]["Host"]
    except FileNotFoundError:
        raise AddressError(f'no builder "{name}" found ({source})') from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AddressError(f"docker context {name!r} is unreadable: {exc}") from None
    tls_dir = cfg / "contexts" / "tls" / digest / "docker"
    tls = _docker_tls(env, tls_dir) if tls_dir.is_dir() else None
    return parse_address(host, "docker", f"{source} {name!r}", tls)


def _current_context(env: Mapping[str, str]) -> str | None:
    if env.get("DOCKER_CONTEXT"):
        return env["DOCKER_CONTEXT"]
    try:
        data = json.loads((_docker_config_dir(env) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    ctx = data.get("currentContext") if isinstance(data, dict) else None
    return ctx if isinstance(ctx, str) and ctx else None


def _context_key(env: Mapping[str, str]) -> str:
    """Buildx's key for the current context: its name, or the docker host for ``default``."""
    if env.get("DOCKER_HOST"):
        return env["DOCKER_HOST"]
    ctx = _current_context(env)
    if ctx and ctx != "default":
        return ctx
    return f"unix://{DEFAULT_DOCKER_SOCKET}"


def _docker_of(endpoint: str, env: Mapping[str, str], source: str) -> Endpoint:
    """A node's docker endpoint: a context name, else a docker host."""
    if "://" in endpoint:
        return parse_address(endpoint, "docker", source)
    return _context_endpoint(endpoint, env, source)


def _remote_tls(inst: Instance) -> TLSFiles | None:
    opts = inst.node.driver_opts
    if not any(opts.get(k) for k in ("cacert", "cert", "key", "servername")):
        return None
    if not opts.get("cacert"):
        raise AddressError(f'builder "{inst.name}": cacert is required for TLS')
    if bool(opts.get("cert")) != bool(opts.get("key")):
        raise AddressError(f'builder "{inst.name}": cert and key must be given together')
    return TLSFiles(opts.get("cacert"), opts.get("cert") or None, opts.get("key") or None,
                    opts.get("servername") or None)


def instance_endpoint(inst: Instance, env: Mapping[str, str], source: str) -> Endpoint:
    """How to reach a stored buildx instance's first node."""
    node = inst.node
    where = f'{source} "{inst.name}" ({inst.driver} driver)'
    if inst.driver is Driver.DOCKER:
        return _docker_of(node.endpoint, env, where)
    if inst.driver is Driver.REMOTE:
        if node.endpoint.startswith("docker-container://"):
            parts = urlsplit(node.endpoint)
            docker = _docker_of(parse_qs(parts.query).get("context", ["default"])[0], env, where)
            dial = ContainerDial(docker, parts.netloc, inst.name)
            return Endpoint("buildkitd", "docker-container", parts.netloc, where, dial=dial)
        return parse_address(node.endpoint, "buildkitd", where, _remote_tls(inst))
    if inst.driver is Driver.DOCKER_CONTAINER:
        docker = _docker_of(node.endpoint, env, where)
        container = f"buildx_buildkit_{node.name}"
        dial = ContainerDial(docker, container, inst.name)
        return Endpoint("buildkitd", "docker-container", container, where, dial=dial)
    parts = urlsplit(node.endpoint)
    query = parse_qs(parts.query)
    deployment = query.get("deployment", [node.name.replace("_", "-")])[0]
    kube = KubectlDial(deployment, inst.name, node.driver_opts.get("namespace") or None,
                       query.get("kubeconfig", [None])[0])
    return Endpoint("buildkitd", "kube-pod", deployment, where, dial=kube)


def _named_builder(name: str, env: Mapping[str, str], source: str) -> Endpoint:
    """A stored buildx instance called ``name``, else the docker context of that name."""
    try:
        inst = BuildxStore(store_root(env)).get(name)
    except StoreError as exc:
        raise AddressError(str(exc)) from None
    if inst is not None:
        return instance_endpoint(inst, env, source)
    return _context_endpoint(name, env, source)


def _selected_builder(env: Mapping[str, str]) -> Endpoint | None:
    """The builder ``docker buildx use`` chose for the current context, if any."""
    name = BuildxStore(store_root(env)).selected(_context_key(env))
    if name is None:
        return None
    try:
        return _named_builder(name, env, "docker buildx use")
    except AddressError:
        return None  # a stale selection: buildx falls back to the context's builder too


def resolve_builder(
    *,
    addr: str | None = None,
    builder: str | None = None,
    tls: TLSFiles | None = None,
    env: Mapping[str, str] | None = None,
) -> Endpoint:
    """Pick the builder like buildx (first that applies, in this order).

    --addr, --builder, BUILDX_BUILDER, BUILDKIT_HOST, the ``buildx use`` selection,
    DOCKER_HOST, the current docker context, the default socket.

    ``addr`` names a buildkitd (``unix://`` or ``tcp://``); ``builder`` names a buildx
    instance or a docker context (``default`` included).  TLS files apply to a buildkitd
    address.
    """
    env = os.environ if env is None else env
    if addr:
        return parse_address(addr, "buildkitd", "--addr", tls)
    if builder:
        return _named_builder(builder, env, "--builder")
    if env.get("BUILDX_BUILDER"):
        return _named_builder(env["BUILDX_BUILDER"], env, "BUILDX_BUILDER")
    if env.get("BUILDKIT_HOST"):
        return parse_address(env["BUILDKIT_HOST"], "buildkitd", "BUILDKIT_HOST", tls)
    selected = _selected_builder(env)
    if selected is not None:
        return selected
    if env.get("DOCKER_HOST"):
        return parse_address(env["DOCKER_HOST"], "docker", "DOCKER_HOST", _docker_tls(env))
    ctx = _current_context(env)
    if ctx and ctx != "default":
        return _context_endpoint(ctx, env, "docker context")
    return Endpoint("docker", "unix", DEFAULT_DOCKER_SOCKET, "the default Docker socket")
