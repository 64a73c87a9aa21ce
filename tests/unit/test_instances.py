"""buildx's stored builder instances: reading, selection, and the endpoint of each driver.

``data/buildx-store`` was written by the real docker-buildx 0.13.1 (``create`` of a remote,
a docker-container and a kubernetes builder, ``use rem1`` / ``use --default rem1`` while
DOCKER_HOST was unix:///run/bxtui-daemon/docker.sock); tests/live/test_instances_live.py
runs ``create``/``use`` afresh.  No daemon needed here.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from tui.buildkit.address import (
    AddressError,
    ContainerDial,
    KubectlDial,
    resolve_builder,
)
from tui.buildkit.dialstdio import FrameReader, kubectl_exec_args
from tui.buildkit.instances import BuildxStore, Driver, StoreError

RECORDED = Path(__file__).parent / "data" / "buildx-store"
KEY = "unix:///run/bxtui-daemon/docker.sock"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "buildx"
    shutil.copytree(RECORDED, root)
    return root


def env_for(root: Path, **extra: str) -> dict[str, str]:
    return {"BUILDX_CONFIG": str(root), "HOME": str(root.parent), **extra}


def test_recorded_instances_parse(store: Path) -> None:
    s = BuildxStore(store)
    rem = s.get("REM1")  # buildx stores the lower-cased name
    assert rem is not None and rem.driver is Driver.REMOTE
    assert rem.node.endpoint == "tcp://127.0.0.1:23728"
    assert rem.node.driver_opts["servername"] == "localhost"
    kube = s.get("kube1")
    assert kube is not None and kube.driver is Driver.KUBERNETES
    assert s.get("nope") is None


def test_selection_current_then_defaults(store: Path) -> None:
    s = BuildxStore(store)
    assert s.selected(KEY) == "rem1"  # current, same key
    assert s.selected("other-context") is None
    (store / "current").write_text(json.dumps({"Key": "x", "Name": "cont1", "Global": True}))
    assert s.selected("other-context") == "cont1"  # global
    (store / "current").write_text(json.dumps({"Key": "x"}))
    assert s.selected(KEY) == "rem1"  # defaults/<sha256(key)[:20]> from `use --default`


def test_remote_instance_endpoint_and_tls(store: Path) -> None:
    ep = resolve_builder(builder="rem1", env=env_for(store))
    assert (ep.kind, ep.scheme, ep.location, ep.dial) == (
        "buildkitd", "tcp", "127.0.0.1:23728", None)
    assert ep.tls is not None
    d = "/var/lib/bxtui-daemon-28/tls/client"
    assert (ep.tls.ca, ep.tls.cert, ep.tls.key, ep.tls.server_name) == (
        f"{d}/ca.pem", f"{d}/cert.pem", f"{d}/key.pem", "localhost")
    assert 'rem1" (remote driver)' in ep.describe()


def test_remote_tls_rules(store: Path) -> None:
    doc = json.loads((store / "instances" / "rem1").read_text())
    del doc["Nodes"][0]["DriverOpts"]["cacert"]
    (store / "instances" / "rem1").write_text(json.dumps(doc))
    with pytest.raises(AddressError, match="cacert is required"):
        resolve_builder(builder="rem1", env=env_for(store))


def test_buildx_builder_env_and_use_selection(store: Path) -> None:
    ep = resolve_builder(env=env_for(store, BUILDX_BUILDER="cont1"))
    assert isinstance(ep.dial, ContainerDial)
    assert ep.dial.container == "buildx_buildkit_cont10"
    assert ep.dial.docker.url == KEY
    assert ep.source.startswith("BUILDX_BUILDER")
    # no name: `docker buildx use rem1` for the key of DOCKER_HOST
    ep = resolve_builder(env=env_for(store, DOCKER_HOST=KEY))
    assert ep.location == "127.0.0.1:23728"
    assert ep.source == 'docker buildx use "rem1" (remote driver)'
    # another context key: that selection does not apply
    ep = resolve_builder(env=env_for(store, DOCKER_HOST="unix:///elsewhere.sock"))
    assert (ep.kind, ep.location) == ("docker", "/elsewhere.sock")


def test_kubernetes_instance(store: Path) -> None:
    ep = resolve_builder(builder="kube1", env=env_for(store))
    assert isinstance(ep.dial, KubectlDial)
    assert ep.dial.namespace == "bk"
    assert ep.dial.kubeconfig == "/tmp/inst-rec/kubeconfig"
    assert ep.dial.deployment.startswith("buildkit-b3950a40")
    assert kubectl_exec_args(ep.dial, "pod-a") == [
        "kubectl", "--kubeconfig=/tmp/inst-rec/kubeconfig", "--namespace=bk", "exec", "-i",
        "pod-a", "--container=buildkitd", "--", "buildctl", "dial-stdio"]


def test_unknown_builder_is_buildx_words(store: Path) -> None:
    with pytest.raises(AddressError, match=r'^no builder "nope" found'):
        resolve_builder(builder="nope", env=env_for(store))
    with pytest.raises(AddressError, match=r'^no builder "nope" found \(BUILDX_BUILDER\)'):
        resolve_builder(env=env_for(store, BUILDX_BUILDER="nope"))


def test_broken_instance_file(store: Path) -> None:
    (store / "instances" / "bad").write_text("{not json")
    with pytest.raises(AddressError, match="unreadable instance file"):
        resolve_builder(builder="bad", env=env_for(store))
    (store / "instances" / "bad").write_text(json.dumps({"Name": "bad", "Driver": "qemu"}))
    with pytest.raises(StoreError):
        BuildxStore(store).get("bad")


def test_frame_reader_splits_and_holds_partial() -> None:
    a = struct.pack(">BxxxI", 1, 3) + b"abc"
    b = struct.pack(">BxxxI", 2, 4) + b"oops"
    r = FrameReader()
    whole = a + b
    assert r.feed(whole[:5]) == []
    assert r.feed(whole[5:13]) == [(1, b"abc")]
    assert r.pending == 2
    assert r.feed(whole[13:]) == [(2, b"oops")]
    assert r.pending == 0

