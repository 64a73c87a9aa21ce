"""``--ssh`` agent forwarding beside ``docker buildx build``, with Debian's real ssh-agent.

The agent runs in a private 0700 directory with a key made by ssh-keygen.  busybox has no
ssh client, so the build context carries the host's own ``ssh-add`` with its shared libraries
and runs it through their dynamic loader: the same tool lists the key on both sides.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.daemon

Run = Callable[..., subprocess.CompletedProcess[str]]
LOADER = "ld-linux-x86-64.so.2"


@dataclass(frozen=True)
class Agent:
    """A running ssh-agent holding one key."""

    socket: str
    fingerprint: str
    key: Path


@pytest.fixture(scope="module")
def agent() -> Iterator[Agent]:
    """Debian's ssh-agent on a socket in a private directory, with one fresh ed25519 key."""
    for tool in ("ssh-agent", "ssh-add", "ssh-keygen"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run scripts/daemon.sh up (installs openssh-client)")
    home = Path(tempfile.mkdtemp(prefix="bxtui-ssh-"))
    os.chmod(home, 0o700)
    sock, key = home / "agent.sock", home / "id"
    # -s: the parent prints the environment once the socket listens, then exits.
    out = subprocess.run(["ssh-agent", "-s", "-a", str(sock)], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    match = re.search(r"SSH_AGENT_PID=(\d+)", out)
    assert match, out
    pid = int(match.group(1))
    try:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bxtui-ssh-test",
                        "-f", str(key)], check=True, timeout=30, capture_output=True)
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        subprocess.run(["ssh-add", str(key)], env=env, check=True, timeout=30,
                       capture_output=True)
        listed = subprocess.run(["ssh-add", "-l"], env=env, check=True, timeout=30,
                                capture_output=True, text=True).stdout.split()
        yield Agent(str(sock), listed[1], key)
    finally:
        os.kill(pid, signal.SIGTERM)
        shutil.rmtree(home, ignore_errors=True)


def ssh_add_context(root: Path) -> Path:
    """A context holding the host's ssh-add and the shared libraries it loads."""
    ctx = root / "ctx"
    (ctx / "t").mkdir(parents=True)
    tool = shutil.which("ssh-add")
    assert tool is not None
    shutil.copy(tool, ctx / "t" / "ssh-add")
    libs = subprocess.run(["ldd", tool], capture_output=True, text=True, check=True).stdout
    for path in re.findall(r"(/\S+)", libs):
        shutil.copy(os.path.realpath(path), ctx / "t" / Path(path).name)
    assert (ctx / "t" / LOADER).exists(), libs
    return ctx


def both(run_bxtui: Run, run_buildx: Run, ctx: Path, env: dict[str, str], *flags: str,
         ) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    args = ("build", "--progress=plain", *flags, str(ctx))
    return run_bxtui(*args, env=env), run_buildx(*args, env=env)


def error_of(res: subprocess.CompletedProcess[str]) -> str:
    """The last stderr line without ``ERROR:`` (and buildx 0.29's ``failed to build:``)."""
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    return last.removeprefix("ERROR: ").removeprefix("failed to build: ")


def test_forwarded_agent_lists_the_key_read_only(
    agent: Agent, tmp_path: Path, run_bxtui: Run, run_buildx: Run
) -> None:
    ctx = ssh_add_context(tmp_path)
    add = f"/t/{LOADER} --library-path /t /t/ssh-add"
    (ctx / "Dockerfile").write_text(
        "FROM busybox:local\n"
        "COPY t /t\n"
        f"RUN --mount=type=ssh echo {secrets.token_hex(4)}; {add} -l && "
        f"if {add} -D; then echo AGENT-WRITABLE; exit 3; fi\n")
    env = {"SSH_AUTH_SOCK": agent.socket}
    ours, peer = both(run_bxtui, run_buildx, ctx, env, "--no-cache", "--ssh", "default")
    assert ours.returncode == 0, ours.stderr[-2000:]
    assert peer.returncode == 0, peer.stderr[-2000:]
    for res in (ours, peer):
        assert f"{agent.fingerprint} bxtui-ssh-test (ED25519)" in res.stderr
        assert "Failed to remove all identities" in res.stderr  # read-only, as buildx's
    # An explicit ID=PATH spec, the mount naming that id.
    (ctx / "Dockerfile").write_text(
        "FROM busybox:local\nCOPY t /t\n"
        f"RUN --mount=type=ssh,id=mykey,required=true echo {secrets.token_hex(4)}; {add} -l\n")
    ours = run_bxtui("build", "--progress=plain", "--ssh", f"mykey={agent.socket}", str(ctx))
    assert ours.returncode == 0, ours.stderr[-2000:]
    assert agent.fingerprint in ours.stderr


def test_ssh_errors_as_buildx(
    agent: Agent, tmp_path: Path, run_bxtui: Run, run_buildx: Run
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    token = secrets.token_hex(4)
    dockerfile = ctx / "Dockerfile"
    env = {"SSH_AUTH_SOCK": agent.socket}
    locked = new_key(tmp_path, "locked", "ed25519", passphrase="secret")
    # (mount options, buildx 0.13.1's message, environment, flags)
    cases: list[tuple[str, str, dict[str, str], tuple[str, ...]]] = [
        ("id=other,required=true", "unset ssh forward key other", env, ("--ssh", "default")),
        ("required=true", "unset ssh forward key default", env, ()),
        ("required=true", "invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set",
         {"SSH_AUTH_SOCK": ""}, ("--ssh", "default")),
        ("required=true", f"stat {tmp_path}/nope: no such file or directory", env,
         ("--ssh", f"x={tmp_path}/nope")),
        ("required=true", "invalid duplicate ID x", env,
         ("--ssh", f"x={agent.socket}", "--ssh", f"x={agent.socket}")),
        ("required=true", f"failed to parse {dockerfile}: ssh: no key found", env,
         ("--ssh", f"x={dockerfile}")),
        ("required=true", "invalid combination of keys and sockets", env,
         ("--ssh", f"x={agent.key},{agent.socket}")),
        ("required=true", f"failed to parse {locked}: ssh: this private key is passphrase "
         "protected", env, ("--ssh", f"x={locked}")),
    ]
    for mount, message, case_env, flags in cases:
        dockerfile.write_text(
            f"FROM busybox:local\nRUN --mount=type=ssh,{mount} echo {token}\n")
        ours, peer = both(run_bxtui, run_buildx, ctx, case_env, *flags)
        assert peer.returncode != 0, (flags, peer.stderr[-1500:])
        # buildx 0.29 words a duplicate ID differently; both name it.
        newer = 'duplicate agent ID "x"' if "duplicate" in message else message
        assert error_of(peer).endswith((message, newer)), (flags, peer.stderr[-1500:])
        assert ours.returncode != 0, (flags, ours.stderr[-1500:])
        wording = (message, f"failed to solve: {message}")  # buildx 0.13.1's
        assert error_of(ours) in wording, (flags, ours.stderr[-1500:])
        if error_of(peer) in wording:  # newer buildx wraps some in more context
            assert error_of(ours) == error_of(peer), (flags, ours.stderr[-1500:])
        assert "Traceback" not in ours.stderr


def test_retry_container_reaches_the_agent(agent: Agent, tmp_path: Path, run_bxtui: Run) -> None:
    """A debug container of a failed ssh step (``--retry``) gets the forwarded agent too."""
    ctx = ssh_add_context(tmp_path)
    add = f"/t/{LOADER} --library-path /t /t/ssh-add"
    (ctx / "Dockerfile").write_text(
        f"FROM busybox:local\nCOPY t /t\nRUN --mount=type=ssh echo {secrets.token_hex(4)}; false\n")
    res = run_bxtui("build", "--progress=plain", "--ssh", "default", "--retry", f"{add} -l",
                    str(ctx), env={"SSH_AUTH_SOCK": agent.socket})
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"{agent.fingerprint} bxtui-ssh-test (ED25519)" in res.stdout + res.stderr


def new_key(root: Path, name: str, kind: str, passphrase: str = "") -> Path:
    """A fresh private key file made by ssh-keygen (``name.pub`` beside it)."""
    key = root / name
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", f"bxtui-{name}",
                    "-f", str(key)], check=True, timeout=60, capture_output=True)
    return key


def tools_context(root: Path, *tools: str) -> Path:
    """A context holding the host's ``tools`` and the shared libraries they load, in /t."""
    ctx = root / "ctx"
    (ctx / "t").mkdir(parents=True)
    for name in tools:
        tool = shutil.which(name)
        assert tool is not None, name
        shutil.copy(tool, ctx / "t" / name)
        libs = subprocess.run(["ldd", tool], capture_output=True, text=True, check=True).stdout
        for path in re.findall(r"(/\S+)", libs):
            shutil.copy(os.path.realpath(path), ctx / "t" / Path(path).name)
    assert (ctx / "t" / LOADER).exists()
    return ctx


STEP_PREFIX = re.compile(r"^#\d+ [\d.]+ ", re.M)
SIG_BLOCK = re.compile(r"-----BEGIN SSH SIGNATURE-----\n.*?\n-----END SSH SIGNATURE-----\n",
                       re.S)


def signature_of(output: str) -> str:
    """The armored ``ssh-keygen -Y sign`` signature the RUN step printed."""
    match = SIG_BLOCK.search(STEP_PREFIX.sub("", output))
    assert match, output[-2000:]
    return match.group(0)


@pytest.mark.parametrize("kind,label", [("ed25519", "ED25519"), ("rsa", "RSA")])
def test_key_file_agent_lists_and_signs(
    kind: str, label: str, tmp_path: Path, run_bxtui: Run, run_buildx: Run
) -> None:
    """``--ssh default=KEYFILE``: the in-memory agent lists the key and signs with it (the
    host's ssh-keygen signs through it in the RUN, the host verifies), as buildx's does."""
    key = new_key(tmp_path, "id", kind)
    fingerprint = subprocess.run(["ssh-keygen", "-lf", f"{key}.pub"], capture_output=True,
                                 text=True, check=True).stdout.split()[1]
    ctx = tools_context(tmp_path, "ssh-add", "ssh-keygen")
    shutil.copy(f"{key}.pub", ctx / "t" / "id.pub")
    message = f"bxtui ssh key file {secrets.token_hex(8)}\n"
    (ctx / "t" / "msg").write_text(message)
    run = f"/t/{LOADER} --library-path /t"
    (ctx / "Dockerfile").write_text(
        "FROM busybox:local\nCOPY t /t\n"
        f"RUN --mount=type=ssh {run} /t/ssh-add -l && "
        f"{run} /t/ssh-keygen -Y sign -f /t/id.pub -n file /t/msg && cat /t/msg.sig && "
        f"if {run} /t/ssh-add -D; then echo AGENT-W$((6*7)); fi\n")
    (tmp_path / "msg").write_text(message)
    ours, peer = both(run_bxtui, run_buildx, ctx, {"SSH_AUTH_SOCK": ""}, "--no-cache",
                      "--ssh", f"default={key}")
    for res in (ours, peer):
        assert res.returncode == 0, res.stderr[-2000:]
        assert re.search(rf"{re.escape(fingerprint)} .*\({label}\)", res.stderr), \
            res.stderr[-2000:]
        sig = tmp_path / "msg.sig"
        sig.write_text(signature_of(res.stderr))
        with open(tmp_path / "msg", "rb") as data:
            check = subprocess.run(["ssh-keygen", "-Y", "check-novalidate", "-n", "file",
                                    "-s", str(sig)], stdin=data, capture_output=True,
                                   text=True, timeout=30)
        assert check.returncode == 0, (check.stdout, check.stderr, res.stderr[-2000:])
        assert "Good" in check.stdout, check.stdout
    listed = [STEP_PREFIX.sub("", ln) for res in (ours, peer) for ln in res.stderr.splitlines()
              if fingerprint in ln and "(" in ln]
    assert len(listed) == 2 and listed[0] == listed[1], listed  # same line, no comment
    # Our agent is read-only whatever its source; buildx's keyring obeys ``ssh-add -D``.
    assert "AGENT-W42" not in ours.stderr and "Failed to remove all identities" in ours.stderr
