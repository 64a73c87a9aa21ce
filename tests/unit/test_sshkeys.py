"""The in-memory key agent (``--ssh ID=KEYFILE``): key files, identities, signatures."""

from __future__ import annotations

import base64
import os
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tui.buildkit.proto import ssh_pb2
from tui.buildkit.session.sshforward import FAILURE_REPLY, SSHService, SSHSpecError, parse_ssh
from tui.buildkit.session.sshkeys import KeyAgent, KeyFileError, parse_key

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
OPENSSH = serialization.PrivateFormat.OpenSSH
PKCS8 = serialization.PrivateFormat.PKCS8
LEGACY = serialization.PrivateFormat.TraditionalOpenSSL
NONE = serialization.NoEncryption()


def make(kind: str) -> PrivateKey:
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    curve = {"p256": ec.SECP256R1(), "p384": ec.SECP384R1(), "p521": ec.SECP521R1()}[kind]
    return ec.generate_private_key(curve)


def pem(key: PrivateKey, fmt: serialization.PrivateFormat = OPENSSH,
        enc: serialization.KeySerializationEncryption = NONE) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, fmt, enc)


def pub_line(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH)


def frame(kind: int, body: bytes = b"") -> bytes:
    return struct.pack(">IB", 1 + len(body), kind) + body


def string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


class Fields:
    """Reads SSH wire fields (the test's own reader, independent of the agent's)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def uint32(self) -> int:
        (v,) = struct.unpack_from(">I", self.data, self.pos)
        self.pos += 4
        return int(v)

    def string(self) -> bytes:
        n = self.uint32()
        self.pos += n
        return self.data[self.pos - n:self.pos]


def identities(agent: KeyAgent) -> list[tuple[bytes, bytes]]:
    reply = agent.answer(frame(11))
    assert struct.unpack(">I", reply[:4])[0] == len(reply) - 4
    assert reply[4] == 12
    f = Fields(reply[5:])
    listed = [(f.string(), f.string()) for _ in range(f.uint32())]
    assert f.pos == len(f.data)
    return listed


def sign(agent: KeyAgent, blob: bytes, data: bytes, flags: int = 0) -> tuple[bytes, bytes]:
    reply = agent.answer(frame(13, string(blob) + string(data) + struct.pack(">I", flags)))
    assert reply != FAILURE_REPLY
    assert reply[4] == 14
    sig = Fields(Fields(reply[5:]).string())
    return sig.string(), sig.string()


def mpint(f: Fields) -> int:
    return int.from_bytes(f.string(), "big", signed=True)


def verify(key: PrivateKey, algo: bytes, sig: bytes, data: bytes) -> None:
    """Raises InvalidSignature unless ``sig`` is ``key``'s SSH signature of ``data``."""
    pub = key.public_key()
    if isinstance(pub, ed25519.Ed25519PublicKey):
        assert algo == b"ssh-ed25519" and len(sig) == 64
        pub.verify(sig, data)
    elif isinstance(pub, ec.EllipticCurvePublicKey):
        digest = {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}
        assert algo == f"ecdsa-sha2-nistp{pub.curve.key_size}".encode()
        f = Fields(sig)
        der = encode_dss_signature(mpint(f), mpint(f))
        assert f.pos == len(sig)
        pub.verify(der, data, ec.ECDSA(digest[pub.curve.key_size]))
    else:
        assert isinstance(pub, rsa.RSAPublicKey)
        rsa_digest = {b"ssh-rsa": hashes.SHA1(), b"rsa-sha2-256": hashes.SHA256(),
                      b"rsa-sha2-512": hashes.SHA512()}[algo]
        pub.verify(sig, data, padding.PKCS1v15(), rsa_digest)


KINDS = ["ed25519", "p256", "p384", "p521", "rsa"]


@pytest.mark.parametrize("kind", KINDS)
def test_each_key_type_lists_and_signs(kind: str) -> None:
    key = make(kind)
    for fmt in (OPENSSH, PKCS8) if kind == "ed25519" else (OPENSSH, PKCS8, LEGACY):
        agent = KeyAgent([parse_key(pem(key, fmt))])
        [(blob, comment)] = identities(agent)
        assert comment == b""  # buildx adds its keys without a comment
        algo, b64 = pub_line(key).split()[:2]
        assert base64.b64encode(blob) == b64 and Fields(blob).string() == algo
        data = b"session-id and userauth request " + pem(key, fmt)[:40]
        sig_algo, sig = sign(agent, blob, data)
        verify(key, sig_algo, sig, data)
        with pytest.raises(InvalidSignature):
            verify(key, sig_algo, sig, data + b"!")


def test_rsa_flags_pick_the_hash() -> None:
    key = make("rsa")
    agent = KeyAgent([parse_key(pem(key))])
    [(blob, _)] = identities(agent)
    for flags, name in ((0, b"ssh-rsa"), (2, b"rsa-sha2-256"), (4, b"rsa-sha2-512")):
        algo, sig = sign(agent, blob, b"data", flags)
        assert algo == name
        verify(key, algo, sig, b"data")
    bad = frame(13, string(blob) + string(b"data") + struct.pack(">I", 6))
    assert agent.answer(bad) == FAILURE_REPLY  # as Go's keyring: unsupported flags


def test_failures_unknown_key_and_other_requests() -> None:
    keys = [make("ed25519"), make("p256")]
    agent = KeyAgent([parse_key(pem(k)) for k in keys])
    listed = identities(agent)
    assert [b for b, _ in listed] == list(agent.blobs) and len(listed) == 2
    other = parse_key(pem(make("ed25519"))).blob
    req = frame(13, string(other) + string(b"x") + struct.pack(">I", 0))
    assert agent.answer(req) == FAILURE_REPLY
    # ed25519 with an RSA hash flag; a truncated sign request; add, remove all, lock.
    assert agent.answer(frame(13, string(listed[0][0]) + string(b"x") + b"\0\0\0\2")) \
        == FAILURE_REPLY
    assert agent.answer(frame(13, string(listed[0][0]))) == FAILURE_REPLY
    for kind in (17, 19, 22, 27):
        assert agent.answer(frame(kind, b"junk")) == FAILURE_REPLY
    # The second key signs too.
    algo, sig = sign(agent, listed[1][0], b"y")
    verify(keys[1], algo, sig, b"y")


def encrypted_openssh(key: PrivateKey) -> bytes:
    """An OpenSSH key file as ``ssh-keygen -N pw`` lays it out (aes256-ctr, bcrypt); the
    sealed part is random bytes: a passphrase-less parser must refuse before reading it."""
    blob = base64.b64decode(pub_line(key).split()[1])
    body = (b"openssh-key-v1\0" + string(b"aes256-ctr") + string(b"bcrypt")
            + string(string(os.urandom(16)) + struct.pack(">I", 16))
            + struct.pack(">I", 1) + string(blob) + string(os.urandom(160)))
    text = base64.encodebytes(body).replace(b"\n", b"")
    lines = b"\n".join(text[i:i + 70] for i in range(0, len(text), 70))
    return (b"-----BEGIN OPENSSH PRIVATE KEY-----\n" + lines
            + b"\n-----END OPENSSH PRIVATE KEY-----\n")


@pytest.mark.parametrize("fmt", [OPENSSH, PKCS8, LEGACY])
def test_encrypted_key_is_refused_as_buildx(tmp_path: Path, fmt: serialization.PrivateFormat,
                                            ) -> None:
    path, key = tmp_path / "id", make("p256")
    if fmt is OPENSSH:  # cryptography writes these only with the bcrypt package
        path.write_bytes(encrypted_openssh(key))
    else:
        path.write_bytes(pem(key, fmt, serialization.BestAvailableEncryption(b"pw")))
    with pytest.raises(SSHSpecError) as exc:
        parse_ssh([f"x={path}"], {})
    if fmt is PKCS8:  # Go's parser does not know the PEM type at all
        assert str(exc.value) == (
            f'failed to parse {path}: ssh: unsupported key type "ENCRYPTED PRIVATE KEY"')
    else:
        assert str(exc.value) == (
            f"failed to parse {path}: ssh: this private key is passphrase protected")


def test_key_file_specs(tmp_path: Path) -> None:
    a, b, junk = tmp_path / "a", tmp_path / "b", tmp_path / "junk"
    a.write_bytes(b"comment line\n" + pem(make("ed25519")))
    b.write_bytes(pem(make("rsa"), LEGACY))
    junk.write_bytes(b"-----BEGIN DSA PRIVATE KEY-----\nAAAA\n-----END DSA PRIVATE KEY-----\n")
    agents = parse_ssh([f"k={a},{b}"], {})
    keys = agents["k"].keys
    assert agents["k"].socket == "" and keys is not None and len(keys.blobs) == 2
    with pytest.raises(SSHSpecError, match=r'ssh: unsupported key type "DSA PRIVATE KEY"'):
        parse_ssh([f"k={a},{junk}"], {})
    secp = tmp_path / "k1"
    secp.write_bytes(pem(ec.generate_private_key(ec.SECP256K1()), PKCS8))
    with pytest.raises(SSHSpecError) as exc:
        parse_ssh([f"k={secp}"], {})
    assert str(exc.value) == (f"failed to add {secp} to agent: "
                              "ssh: only P-256, P-384 and P-521 EC keys are supported.")
    with pytest.raises(KeyFileError, match="ssh: no key found"):
        parse_key(b"no pem here")


class Context:
    def __init__(self, sid: str) -> None:
        self.written: list[bytes] = []
        self.sid = sid

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return (("buildkit.ssh.id", self.sid),)

    async def write(self, message: ssh_pb2.BytesMessage) -> None:
        self.written.append(message.data)

    async def abort(self, code: Any, details: str) -> None:
        raise RuntimeError(details)


async def test_forward_agent_answers_from_the_keys(tmp_path: Path) -> None:
    key = make("ed25519")
    path = tmp_path / "id"
    path.write_bytes(pem(key))
    svc = SSHService(parse_ssh([f"git={path}"], {}))
    ctx: Any = Context("git")

    async def stream(*chunks: bytes) -> AsyncIterator[ssh_pb2.BytesMessage]:
        for c in chunks:
            yield ssh_pb2.BytesMessage(data=c)

    data = frame(11) + frame(19)
    await svc.ForwardAgent(stream(data[:3], data[3:]), ctx)
    assert ctx.written[1] == FAILURE_REPLY and ctx.written[0][4] == 12
    assert await svc.CheckAgent(ssh_pb2.CheckAgentRequest(ID="git"), ctx) == \
        ssh_pb2.CheckAgentResponse()
