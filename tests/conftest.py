"""Shared fixtures: the real daemon, the buildx peer, running the real bxtui binary."""

from __future__ import annotations

import base64
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from leakcheck import (
    non_daemon_threads,
    other_tasks,
    repo_files,
    settle_tasks,
    settle_threads,
)

from tui.buildkit.address import parse_address
from tui.buildkit.client import BuildkitClient
from tui.buildkit.relay import DaemonUnreachable, ping_docker

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
PRIVATE_SOCKET = "unix:///run/bxtui-daemon/docker.sock"
PEER_BUILDX = "/var/lib/bxtui-daemon/tools/docker-buildx"


_FILES_BEFORE = pytest.StashKey[set[Path]]()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Note the checkout's files: the run must not add any (logs, outputs, sockets)."""
    session.stash[_FILES_BEFORE] = repo_files(REPO)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when it left new files in the checkout, and name them."""
    before = session.stash.get(_FILES_BEFORE, None)
    stray = sorted(repo_files(REPO) - before) if before is not None else []
    if stray:
        names = ", ".join(str(p.relative_to(REPO)) for p in stray[:20])
        session.config.get_terminal_writer().line(
            f"\nthe tests left files in the checkout: {names}", red=True)
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
async def no_leftovers() -> AsyncIterator[None]:
    """Fail the test when a task or non-daemon thread it started outlives it.

    All tests share one event loop (pyproject: ``asyncio_default_test_loop_scope``), so a
    leaked task would run during later tests.  Leftovers get a bounded chance to finish,
    then are cancelled so the next test starts clean.
    """
    tasks, threads = other_tasks(), non_daemon_threads()
    yield
    left = await settle_tasks(tasks) + settle_threads(threads)
    if left:
        pytest.fail("left running after the test:\n  " + "\n  ".join(left), pytrace=False)


@pytest.fixture(scope="session")
def docker_host() -> str:
    """DOCKER_HOST of the real daemon; fails (never skips) when it does not answer."""
    host = os.environ.get("DOCKER_HOST") or PRIVATE_SOCKET
    try:
        ping_docker(parse_address(host, "docker", "DOCKER_HOST"))
    except DaemonUnreachable as exc:
        pytest.fail(f"the test daemon is not running ({exc}); run scripts/daemon.sh up")
    return host


@pytest.fixture(scope="session")
def buildx() -> str:
    """Path of the docker-buildx peer binary; fails when it is missing."""
    path = os.environ.get("BXTUI_BUILDX") or PEER_BUILDX
    if not os.access(path, os.X_OK):
        pytest.fail(f"docker-buildx peer not found at {path}; run scripts/daemon.sh up")
    return path


def bxtui_binary() -> str:
    """The installed ``bxtui`` console script of this interpreter's environment."""
    candidate = Path(sys.executable).parent / "bxtui"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("bxtui")
    if not found:
        pytest.fail("the bxtui console script is not installed (pip install -e .)")
    return found


def run_cmd(
    argv: Sequence[str], env: dict[str, str] | None = None, timeout: float = 180, **kw: object
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing text output."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        list(argv), env=full_env, capture_output=True, text=True, timeout=timeout, **kw
    )


def active_builds(docker_host: str) -> set[str]:
    """Refs the daemon's build history lists as running."""
    import asyncio

    from tui.buildkit.client import BuildkitClient

    async def go() -> list[str]:
        client = await BuildkitClient.open(parse_address(docker_host, "docker", "test"))
        try:
            return await client.active_builds()
        finally:
            await client.close()

    return set(asyncio.run(go()))


def wait_until(cond, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``cond`` until it holds or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.2)
    return bool(cond())


@pytest.fixture(scope="session")
def run_bxtui(docker_host: str):  # type: ignore[no-untyped-def]
    """Run the real bxtui binary against the test daemon."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 180,
            **kw: object) -> subprocess.CompletedProcess[str]:
        e = {"DOCKER_HOST": docker_host}
        e.update(env or {})
        return run_cmd([bxtui_binary(), *args], env=e, timeout=timeout, **kw)

    return run


@pytest.fixture(scope="session")
def run_buildx(docker_host: str, buildx: str):  # type: ignore[no-untyped-def]
    """Run the buildx peer (standalone docker-buildx) against the test daemon."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 180,
            **kw: object) -> subprocess.CompletedProcess[str]:
        e = {"DOCKER_HOST": docker_host, "BUILDX_NO_DEFAULT_ATTESTATIONS": "1"}
        e.update(env or {})
        return run_cmd([buildx, *args], env=e, timeout=timeout, **kw)

    return run


@pytest.fixture
async def client(docker_host: str) -> AsyncIterator[BuildkitClient]:
    """A client of the test daemon, closed after the test."""
    c = await BuildkitClient.open(parse_address(docker_host, "docker", "test"))
    try:
        yield c
    finally:
        await c.close()


@pytest.hookimpl(tryfirst=True)  # before ``-m`` selects on the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``daemon`` every test that uses the real daemon (the ``docker_host`` fixture).

    With BXTUI_DAEMON_TESTS_ONLY=1 keep only those: the CI runs the whole suite against the
    default engine, then only these against the second engine (the pure tests would just
    repeat themselves).
    """
    daemon = [i for i in items if "docker_host" in getattr(i, "fixturenames", ())]
    for item in daemon:
        item.add_marker(pytest.mark.daemon)
    if os.environ.get("BXTUI_DAEMON_TESTS_ONLY") != "1":
        return
    dropped = [i for i in items if i not in daemon]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = daemon


# --- the private registries (scripts/registry.sh) ----------------------------------------------

REGISTRY_KEYS = ("BXTUI_REGISTRY", "BXTUI_REGISTRY_TLS", "BXTUI_REGISTRY_USER",
                 "BXTUI_REGISTRY_PASSWORD", "BXTUI_REGISTRY_CA", "BXTUI_REGISTRY_IMAGE")


@dataclass(frozen=True)
class Registry:
    """The two private registries scripts/registry.sh runs on 127.0.0.1 (htpasswd auth)."""

    address: str       # plain HTTP, e.g. 127.0.0.1:5510
    tls_address: str   # HTTPS with the script's CA
    user: str
    password: str
    ca: Path
    image: str         # the pushed base image, e.g. private/busybox:local

    def ref(self, tls: bool = False) -> str:
        """The base image's reference on one of the registries."""
        return f"{self.tls_address if tls else self.address}/{self.image}"

    def auth(self, password: str | None = None) -> str:
        """The ``auths`` entry value: base64 of ``user:password``."""
        pw = self.password if password is None else password
        return base64.b64encode(f"{self.user}:{pw}".encode()).decode()


def _registry_answers(url: str, ca: Path) -> str | None:
    """None when ``url``/v2/ asks for credentials (401), else what went wrong."""
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]  # loopback only
    if url.startswith("https"):
        handlers.append(urllib.request.HTTPSHandler(
            context=ssl.create_default_context(cafile=str(ca))))
    try:
        urllib.request.build_opener(*handlers).open(url + "/v2/", timeout=5).close()
    except urllib.error.HTTPError as exc:
        return None if exc.code == 401 else f"HTTP {exc.code}"
    except (OSError, ssl.SSLError) as exc:
        return str(exc)
    return "no authentication asked for"


@pytest.fixture(scope="session")
def registry(docker_host: str) -> Registry:
    """The private registries; fails (never skips) when they are not running."""
    env = {k: os.environ[k] for k in REGISTRY_KEYS if os.environ.get(k)}
    if len(env) < len(REGISTRY_KEYS):
        res = run_cmd(["bash", str(REPO / "scripts" / "registry.sh"), "env"], timeout=30)
        for line in res.stdout.splitlines():
            key, _, value = line.partition("=")
            if key in REGISTRY_KEYS and value:
                env.setdefault(key, value)
    missing = [k for k in REGISTRY_KEYS if k not in env]
    if missing:
        pytest.fail(f"the private registry is not set up ({', '.join(missing)} unknown); "
                    "run scripts/registry.sh up")
    reg = Registry(env["BXTUI_REGISTRY"], env["BXTUI_REGISTRY_TLS"], env["BXTUI_REGISTRY_USER"],
                   env["BXTUI_REGISTRY_PASSWORD"], Path(env["BXTUI_REGISTRY_CA"]),
                   env["BXTUI_REGISTRY_IMAGE"])
    for url in (f"http://{reg.address}", f"https://{reg.tls_address}"):
        problem = _registry_answers(url, reg.ca)
        if problem:
            pytest.fail(f"the private registry at {url} is not running ({problem}); "
                        "run scripts/registry.sh up")
    return reg
