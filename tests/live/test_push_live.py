"""``--push`` to the private registry (scripts/registry.sh), each beside ``docker buildx build``.

On the docker driver the engine never pushes through BuildKit: both push each tag through the
Engine API after the solve; the test then asks the registry itself for the manifest.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import Registry
from dockerapi import DockerAPI

pytestmark = pytest.mark.daemon

Run = Callable[..., subprocess.CompletedProcess[str]]
MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.v2+json,"
                  "application/vnd.oci.image.manifest.v1+json")


def manifest_digest(reg: Registry, repo: str, tag: str) -> str | None:
    """The registry's digest for ``repo:tag`` (GET /v2/REPO/manifests/TAG), None if unknown."""
    req = urllib.request.Request(f"http://{reg.address}/v2/{repo}/manifests/{tag}")
    req.add_header("Authorization", "Basic " + base64.b64encode(
        f"{reg.user}:{reg.password}".encode()).decode())
    req.add_header("Accept", MANIFEST_TYPES)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    try:
        with opener.open(req, timeout=10) as resp:
            return str(resp.headers["Docker-Content-Digest"])
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    """A context with a fresh step (never cached), FROM the engine's own base image."""
    d = tmp_path / "ctx"
    d.mkdir()
    (d / "Dockerfile").write_text(f"FROM busybox:local\nRUN echo pushed-{secrets.token_hex(4)}"
                                  " > /pushed\n")
    return d


@pytest.fixture
def names(registry: Registry, docker_host: str) -> Iterator[Callable[[str], str]]:
    """Unique repository names under the registry; their local images are removed after."""
    made: list[str] = []
    run = secrets.token_hex(4)

    def name(kind: str) -> str:
        made.append(f"{registry.address}/bxtui-push-{run}/{kind}:t1")
        return made[-1]

    yield name
    api = DockerAPI(docker_host)
    for ref in made:
        api.request("DELETE", f"/images/{ref}?noprune=1")


def config(tmp_path: Path, reg: Registry, password: str | None = None) -> dict[str, str]:
    d = tmp_path / f"cfg-{secrets.token_hex(3)}"
    d.mkdir()
    auths = {reg.address: {"auth": reg.auth(password)}}
    (d / "config.json").write_text(json.dumps({"auths": auths}))
    return {"DOCKER_CONFIG": str(d)}


def repo_tag(ref: str, reg: Registry) -> tuple[str, str]:
    path = ref.removeprefix(reg.address + "/")
    repo, _, tag = path.rpartition(":")
    return repo, tag


def last_line(res: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def test_push_lands_in_the_registry_as_with_buildx(
        run_bxtui: Run, run_buildx: Run, registry: Registry, tmp_path: Path, ctx: Path,
        names: Callable[[str], str]) -> None:
    env = config(tmp_path, registry)
    ours_ref, peer_ref = names("ours"), names("peer")
    ours = run_bxtui("build", "--progress=plain", "-t", ours_ref, "--push", str(ctx), env=env)
    peer = run_buildx("build", "--progress=plain", "-t", peer_ref, "--push", str(ctx), env=env)
    assert peer.returncode == 0, peer.stderr
    assert ours.returncode == 0, ours.stderr
    assert f"pushing {ours_ref} with docker" in ours.stderr
    assert f"pushing {peer_ref} with docker" in peer.stderr
    ours_digest = manifest_digest(registry, *repo_tag(ours_ref, registry))
    peer_digest = manifest_digest(registry, *repo_tag(peer_ref, registry))
    assert ours_digest and ours_digest.startswith("sha256:")
    # the same step on the same daemon: the same image, so the same manifest
    assert ours_digest == peer_digest
    assert registry.password not in ours.stdout + ours.stderr


@pytest.mark.parametrize("output", ["type=image,push=true", "type=registry"])
def test_output_with_push_pushes(run_bxtui: Run, registry: Registry, tmp_path: Path, ctx: Path,
                                 names: Callable[[str], str], output: str) -> None:
    ref = names(output.replace("=", "-").replace(",", "-"))
    ours = run_bxtui("build", "--progress=plain", "-t", ref, "-o", output, str(ctx),
                     env=config(tmp_path, registry))
    assert ours.returncode == 0, ours.stderr
    assert manifest_digest(registry, *repo_tag(ref, registry))


def test_push_without_tag_is_refused_as_by_buildx(run_bxtui: Run, run_buildx: Run,
                                                  ctx: Path) -> None:
    for args in (("--push",), ("-o", "type=registry")):
        ours = run_bxtui("build", "--progress=plain", *args, str(ctx))
        peer = run_buildx("build", "--progress=plain", *args, str(ctx))
        assert peer.returncode == 1 and ours.returncode == 1
        assert last_line(peer).endswith("tag is needed when pushing to registry")
        assert last_line(ours) == "ERROR: tag is needed when pushing to registry"
        assert "#1 " not in ours.stderr  # refused before anything is built


def test_push_refused_by_the_registry_is_one_line(
        run_bxtui: Run, run_buildx: Run, registry: Registry, tmp_path: Path, ctx: Path,
        names: Callable[[str], str]) -> None:
    wrong = "wrong-" + secrets.token_hex(6)
    env = config(tmp_path, registry, wrong)
    ref = names("refused")
    ours = run_bxtui("build", "--progress=plain", "-t", ref, "--push", str(ctx), env=env)
    peer = run_buildx("build", "--progress=plain", "-t", ref, "--push", str(ctx), env=env)
    assert peer.returncode == 1 and ours.returncode == 1, ours.stderr
    # buildx 0.29 words its prefix "ERROR: failed to build: "
    assert last_line(ours) == last_line(peer).replace("ERROR: failed to build: ", "ERROR: ", 1)
    assert last_line(ours) == "ERROR: unauthorized: authentication required"
    assert "ERROR: unauthorized" in ours.stderr.split(f"pushing {ref} with docker", 1)[1]
    assert "Traceback" not in ours.stderr
    for secret in (wrong, registry.auth(wrong)):
        assert secret not in ours.stdout + ours.stderr
    assert manifest_digest(registry, *repo_tag(ref, registry)) is None


def forget_step(api: DockerAPI, token: str) -> list[str]:
    """Prune only the build-cache records of the step echoing ``token`` (by id); their ids."""
    _, df = api.request("GET", "/system/df?type=build-cache")
    ids = [r["ID"] for r in df.get("BuildCache") or [] if token in (r.get("Description") or "")]
    if ids:
        filters = quote(json.dumps({"id": ids}), safe="")
        status, _ = api.request("POST", f"/build/prune?filters={filters}")
        assert status == 200
    return ids


def cache_round(run: Run, registry: Registry, docker_host: str, tmp_path: Path,
                names: Callable[[str], str], who: str) -> str:
    """Build with inline cache and push; forget the step locally; build again from the cache.

    Returns the second build's output.
    """
    token = f"cache-{who}-{secrets.token_hex(4)}"
    ctx = tmp_path / who
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {registry.ref()}\nRUN echo {token} > /c\n")
    env = config(tmp_path, registry)
    ref, again = names(f"cache-{who}"), names(f"again-{who}")
    first = run("build", "--progress=plain", "-t", ref, "--cache-to", "type=inline", "--push",
                str(ctx), env=env)
    assert first.returncode == 0, first.stderr
    api = DockerAPI(docker_host)
    status, _ = api.request("DELETE", f"/images/{ref}")
    assert status == 200
    assert forget_step(api, token)
    second = run("build", "--progress=plain", "-t", again, "--cache-from",
                 f"type=registry,ref={ref}", str(ctx), env=env)
    assert second.returncode == 0, second.stderr
    assert f"importing cache manifest from {ref}" in second.stderr
    return second.stderr.split(f"RUN echo {token}", 1)[1].split("\n\n", 1)[0]


def test_steps_come_from_the_registry_cache_as_with_buildx(
        run_bxtui: Run, run_buildx: Run, registry: Registry, docker_host: str, tmp_path: Path,
        names: Callable[[str], str]) -> None:
    peer = cache_round(run_buildx, registry, docker_host, tmp_path, names, "peer")
    ours = cache_round(run_bxtui, registry, docker_host, tmp_path, names, "ours")
    for step in (peer, ours):
        # the layer is pulled from the registry: the local cache had forgotten the step
        assert "pulling sha256:" in step, step
        assert step.rstrip().endswith("CACHED"), step


def test_cache_export_other_than_inline_is_refused_as_by_buildx(
        run_bxtui: Run, run_buildx: Run, registry: Registry, ctx: Path, tmp_path: Path) -> None:
    for spec in (f"type=registry,ref={registry.address}/bxtui-push/c",
                 f"type=local,dest={tmp_path}/c"):
        ours = run_bxtui("build", "--progress=plain", "--cache-to", spec, str(ctx))
        peer = run_buildx("build", "--progress=plain", "--cache-to", spec, str(ctx))
        assert peer.returncode == 1 and ours.returncode == 1
        assert "Cache export is not supported for the docker driver." in peer.stderr
        assert last_line(ours).startswith(
            "ERROR: Cache export is not supported for the docker driver. Switch to a different")
        assert not (tmp_path / "c").exists()
