"""The real Docker Engine over tcp:// with mutual TLS (scripts/daemon.sh's endpoint).

``daemon.sh env`` names it in BXTUI_TLS_HOST and BXTUI_TLS_CERT_PATH (ca.pem, cert.pem,
key.pem); bxtui reaches it as the docker CLI does, through DOCKER_HOST, DOCKER_TLS_VERIFY and
DOCKER_CERT_PATH, and is compared with buildx over the same endpoint.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from buildkitd_relay import make_certs
from conftest import EXAMPLES, bxtui_binary
from ptyscreen import PtyScreen

from tui.buildkit.address import AddressError, resolve_builder
from tui.buildkit.relay import DaemonUnreachable, ping_docker

pytestmark = pytest.mark.daemon

#: Typed into a shell in fail-run's failed step: proves the process runs and reads stdin.
SHELL_INPUT = "cat /work/partial.txt; echo EXEC_$((40+2)); exit 0\n"


@dataclass(frozen=True)
class TLSEngine:
    """The TLS endpoint: its address and the client's certificate directory."""

    host: str
    cert_path: str

    def env(self, cert_path: str | None = None) -> dict[str, str]:
        """What the docker CLI reads to reach it (another certificate directory if given)."""
        return {"DOCKER_HOST": self.host, "DOCKER_TLS_VERIFY": "1",
                "DOCKER_CERT_PATH": cert_path or self.cert_path}


def peer_env(tmp_path: Path, host: str, cert_path: str,
             skip_verify: bool = False) -> dict[str, str]:
    """The same endpoint and certificates for the buildx peer, as a docker context.

    The standalone docker-buildx 0.13.1 ignores DOCKER_TLS_VERIFY/DOCKER_CERT_PATH (it talks
    plain HTTP to the TLS port); a context holding the TLS files works for 0.13.1 and 0.29.
    """
    import hashlib
    import json

    cfg = tmp_path / "peer-docker-config"
    name = "bxtui-tls"
    key = hashlib.sha256(name.encode()).hexdigest()
    meta, tls = cfg / "contexts" / "meta" / key, cfg / "contexts" / "tls" / key / "docker"
    meta.mkdir(parents=True)
    tls.mkdir(parents=True)
    for f in ("ca.pem", "cert.pem", "key.pem"):
        if (Path(cert_path) / f).exists():
            shutil.copy(Path(cert_path) / f, tls / f)
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Metadata": {}, "Endpoints": {
        "docker": {"Host": host, "SkipTLSVerify": skip_verify}}}))
    return {"DOCKER_HOST": "", "DOCKER_CONFIG": str(cfg), "DOCKER_CONTEXT": name}


@pytest.fixture(scope="module")
def tls_engine(docker_host: str) -> TLSEngine:
    """The test engine's TLS endpoint; fails (never skips) when it is missing."""
    host, certs = os.environ.get("BXTUI_TLS_HOST"), os.environ.get("BXTUI_TLS_CERT_PATH")
    if not host or not certs:
        pytest.fail("BXTUI_TLS_HOST/BXTUI_TLS_CERT_PATH unset: eval \"$(scripts/daemon.sh env)\"")
    engine = TLSEngine(host, certs)
    try:
        ping_docker(resolve_builder(env=engine.env()))
    except (DaemonUnreachable, AddressError) as exc:
        pytest.fail(f"the TLS endpoint does not answer ({exc}); restart the engine with "
                    "scripts/daemon.sh down && scripts/daemon.sh up")
    return engine


def _context(root: Path, token: str) -> Path:
    """A build context of nested files (one named by ``token``, so nothing comes from cache)."""
    ctx = root / "ctx"
    for i in range(60):
        d = ctx / "src" / f"d{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.txt").write_text(f"{token} file {i}\n" * (i + 1))
    (ctx / "bin.dat").write_bytes(os.urandom(256 * 1024))
    (ctx / "run.sh").write_text("#!/bin/sh\necho run\n")
    (ctx / "run.sh").chmod(0o755)
    (ctx / "Dockerfile").write_text(
        "FROM busybox:local\nCOPY . /ctx\n"
        "RUN cd /ctx && find . -type f | sort | xargs md5sum > /manifest && ls -l run.sh "
        "| cut -c1-10 >> /manifest\n"
        "FROM scratch\nCOPY --from=0 /manifest /manifest\n"
    )
    return ctx


def _private_tmp(tmp_path: Path) -> Path:
    d = tmp_path / "tmp"
    d.mkdir()
    return d


def test_build_uploads_the_context_like_buildx(tmp_path: Path, tls_engine: TLSEngine,
                                               run_bxtui,
                                               run_buildx) -> None:  # type: ignore[no-untyped-def]
    ctx = _context(tmp_path, os.urandom(8).hex())
    private = _private_tmp(tmp_path)
    env = tls_engine.env() | {"TMPDIR": str(private)}
    ours = run_bxtui("build", "--progress=plain", "-o", f"type=local,dest={tmp_path / 'a'}",
                     str(ctx), env=env)
    assert ours.returncode == 0, ours.stderr
    assert f"Docker Engine at {tls_engine.host}" in ours.stderr
    peer = run_buildx("build", "--progress=plain", "-o", f"type=local,dest={tmp_path / 'b'}",
                      str(ctx), env=peer_env(tmp_path, tls_engine.host, tls_engine.cert_path))
    assert peer.returncode == 0, peer.stderr
    manifest = (tmp_path / "a" / "manifest").read_text()
    assert manifest == (tmp_path / "b" / "manifest").read_text()
    assert manifest.count("\n") == 64  # 62 files (60 + bin.dat + run.sh + Dockerfile) + mode
    assert "./bin.dat" in manifest and manifest.rstrip().endswith("-rwxr-xr-x")
    assert not list(private.iterdir()), "private directory left behind"


def test_invoke_shell_over_tls(tmp_path: Path, tls_engine: TLSEngine,
                               run_bxtui) -> None:
    private = _private_tmp(tmp_path)
    res = run_bxtui("build", "--progress=plain", "--invoke", "/bin/sh",
                    str(EXAMPLES / "fail-run"), input=SHELL_INPUT,
                    env=tls_engine.env() | {"TMPDIR": str(private)})
    assert res.returncode == 1, res.stderr
    assert "EXEC_42" in res.stdout and "partial output" in res.stdout, res.stderr
    assert "debug process exited with status 0" in res.stderr
    assert not list(private.iterdir()), "private directory left behind"


def _cert_dir(tmp_path: Path, name: str, ca: str | None, client: Path | None) -> str:
    d = tmp_path / name
    d.mkdir()
    if ca is not None:
        shutil.copy(ca, d / "ca.pem")
    if client is not None:
        shutil.copy(client / "cert.pem", d / "cert.pem")
        shutil.copy(client / "key.pem", d / "key.pem")
    return str(d)


@pytest.mark.parametrize("case,needle,peer_needle", [
    ("wrong-ca", "server certificate verify failed", "certificate signed by unknown authority"),
    ("no-client-cert", "requires a client certificate", "certificate required"),
])
def test_tls_failure_is_one_clear_line(case: str, needle: str, peer_needle: str,
                                       tmp_path: Path, tls_engine: TLSEngine,
                                       run_bxtui,
                                       run_buildx) -> None:
    client = Path(tls_engine.cert_path)
    if case == "wrong-ca":
        certs = _cert_dir(tmp_path, "c", make_certs(tmp_path).other_ca, client)
    else:
        certs = _cert_dir(tmp_path, "c", str(client / "ca.pem"), None)
    private = _private_tmp(tmp_path)
    res = run_bxtui("build", str(EXAMPLES / "success"), timeout=30,
                    env=tls_engine.env(certs) | {"TMPDIR": str(private)})
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert tls_engine.host in lines[0] and needle in lines[0]
    assert not list(private.iterdir()), "private directory left behind"
    peer = run_buildx("build", str(EXAMPLES / "success"), timeout=30,
                      env=peer_env(tmp_path, tls_engine.host, certs))
    assert peer.returncode != 0 and peer_needle in peer.stderr


def test_tls_endpoint_without_tls_says_so(tls_engine: TLSEngine,
                                          run_bxtui) -> None:
    res = run_bxtui("build", str(EXAMPLES / "success"), timeout=30,
                    env={"DOCKER_HOST": tls_engine.host, "DOCKER_TLS_VERIFY": "",
                         "DOCKER_CERT_PATH": tls_engine.cert_path})
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "speaks TLS: set DOCKER_TLS_VERIFY=1" in lines[0], lines


def test_app_opens_a_shell_over_tls(tmp_path: Path, tls_engine: TLSEngine) -> None:
    """The app on the TLS endpoint: failure view, ``f`` → a shell in the failed step."""
    private = _private_tmp(tmp_path)
    env = dict(os.environ, TERM="xterm-256color", TMPDIR=str(private)) | tls_engine.env()
    run = PtyScreen([bxtui_binary(), "build", str(EXAMPLES / "fail-run")], env, rows=40,
                    cols=140)
    try:
        run.wait_for(r"exit code 3")
        run.send("f")
        run.wait_for(r"/work # ", timeout=30)
        run.send("cat /work/partial.txt; echo TLS$((6*7))\r")
        run.wait_for(r"TLS42")
        assert "partial output" in run.text()
        run.send("exit\r")
        run.wait_for(r"exited with status 0")
        run.send("q")
        assert run.wait_exit(timeout=30) == 1
    finally:
        run.close()
    assert not list(private.iterdir()), "private directory left behind"


def test_docker_tls_without_verify_skips_the_server_check(tmp_path: Path, tls_engine: TLSEngine,
                                                          run_bxtui, run_buildx) -> None:  # type: ignore[no-untyped-def]
    # DOCKER_TLS=1 without DOCKER_TLS_VERIFY: the docker CLI's TLS with no server check
    certs = _cert_dir(tmp_path, "c", make_certs(tmp_path).other_ca, Path(tls_engine.cert_path))
    env = {"DOCKER_HOST": tls_engine.host, "DOCKER_TLS": "1", "DOCKER_TLS_VERIFY": "",
           "DOCKER_CERT_PATH": certs}
    ours = run_bxtui("build", "--progress=plain", str(EXAMPLES / "success"), env=env)
    assert ours.returncode == 0, ours.stderr
    peer = run_buildx("build", "--progress=plain", str(EXAMPLES / "success"),
                      env=peer_env(tmp_path, tls_engine.host, certs, skip_verify=True))
    assert peer.returncode == 0, peer.stderr
