"""kamaji.testing.binaries: the wrapper go.mod, version flags and the cache lookup (no Go, no servers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kamaji.errors import ToolError
from kamaji.testing import binaries

# an excerpt in the shape of k8s.io/kubernetes v1.36.x's go.mod
GOMOD = """module k8s.io/kubernetes

go 1.26.0

godebug default=go1.26

require (
\tgithub.com/spf13/cobra v1.10.2
\tk8s.io/api v0.0.0
\tk8s.io/streaming v0.0.0
\tk8s.io/utils v0.0.0-20260210185600-b8788abfbbc2
)

require k8s.io/cri-streaming v0.0.0 // indirect

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/sample-controller => ./staging/src/k8s.io/sample-controller
\tk8s.io/streaming => ./staging/src/k8s.io/streaming
)
"""


def test_staging_modules_are_the_v000_requires_and_staging_replaces() -> None:
    assert binaries.staging_modules(GOMOD) == [
        "k8s.io/api",
        "k8s.io/cri-streaming",
        "k8s.io/sample-controller",
        "k8s.io/streaming",
    ]


def test_wrapper_gomod_replaces_staging_with_the_release_tags() -> None:
    text = binaries.kubernetes_wrapper_gomod(GOMOD, "v1.36.3")
    assert "go 1.26.0\n" in text
    assert "godebug default=go1.26\n" in text
    assert "require k8s.io/kubernetes v1.36.3\n" in text
    assert "\tk8s.io/streaming => k8s.io/streaming v0.36.3\n" in text
    assert "k8s.io/utils =>" not in text  # a real pseudo-version, not a staging module


def test_staging_version() -> None:
    assert binaries.staging_version("v1.36.3") == "v0.36.3"
    assert binaries.staging_version("v1.37.0-rc.1") == "v0.37.0-rc.1"
    with pytest.raises(ToolError, match="not a Kubernetes release tag"):
        binaries.staging_version("v1.36")


def test_version_ldflags_stamp_both_version_packages() -> None:
    flags = binaries.version_ldflags("v1.36.3")
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"-X {pkg}.gitVersion=v1.36.3" in flags
        assert f"-X {pkg}.gitMinor=36" in flags
        assert f"-X {pkg}.buildDate={binaries.BUILD_DATE}" in flags


def test_pinned_kubernetes_is_in_the_supported_range() -> None:
    minor = int(binaries.KUBERNETES_VERSION.split(".")[1])
    assert 31 <= minor <= 36


def test_find_names_the_build_command_when_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAMAJI_BIN_DIR", str(tmp_path))
    with pytest.raises(ToolError) as info:
        binaries.find("kube-apiserver", search_path=False)
    message = str(info.value)
    assert f"KAMAJI_BIN_DIR={tmp_path} python3 -m kamaji.testing.binaries --only kubernetes" in message
    assert str(tmp_path / f"kubernetes-{binaries.KUBERNETES_VERSION}") in message


def test_find_uses_a_stamped_build_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAMAJI_BIN_DIR", str(tmp_path))
    d = tmp_path / f"etcd-{binaries.ETCD_VERSION}"
    d.mkdir()
    for name in ("etcd", "etcdctl"):
        (d / name).write_text("#!/bin/sh\n")
        os.chmod(d / name, 0o755)
    with pytest.raises(ToolError):  # binaries without a stamp: an interrupted build
        binaries.find("etcd", search_path=False)
    stamp = {"version": binaries.ETCD_VERSION, "recipe": binaries.RECIPE}
    (d / binaries.STAMP).write_text(json.dumps(stamp))
    assert binaries.find("etcd", search_path=False) == d / "etcd"
    (d / binaries.STAMP).write_text(json.dumps({**stamp, "recipe": binaries.RECIPE + 1}))
    with pytest.raises(ToolError):  # built by another recipe
        binaries.find("etcd", search_path=False)


def test_unknown_binary_is_a_tool_error() -> None:
    with pytest.raises(ToolError, match="unknown binary"):
        binaries.find("kubelet")


def test_the_builder_runs_without_site_packages() -> None:
    # .ci/install runs it with the system Python before anything is installed: standard library only
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-S", "-m", "kamaji.testing.binaries", "--help"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--only {etcd,kine,kubernetes}" in result.stdout
