"""The tenant's KubeletConfiguration, rendered for a target kubelet minor.

A kubelet decodes its configuration strictly: a field it does not know makes it refuse to start. So the
configuration kubeadm uploads is written for the *oldest kubelet that will read it* (``kubelet_minor``): every field
of ``FIELDS_ADDED`` newer than that minor is removed, also after the user's JSON patches.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from typing import Any

from kamaji.api.tenant import JSONPatch
from kamaji.errors import RenderError
from kamaji.render.serialize import dump_yaml

__all__ = ["FIELDS_ADDED", "apply_json_patch", "kubelet_configuration", "kubelet_configuration_yaml"]

#: KubeletConfiguration (kubelet.config.k8s.io/v1beta1) top-level fields by the minor that introduced them, with
#: the value kubeadm's defaulted configuration carries (``None``: not written unless a patch adds it).
FIELDS_ADDED: dict[str, tuple[int, Any]] = {
    "imageMaximumGCAge": (29, "0s"),
    "containerLogMaxWorkers": (30, 1),
    "containerLogMonitorInterval": (30, "10s"),
    "failCgroupV1": (31, None),
    "crashLoopBackOff": (32, {}),
    "imagePullCredentialsVerificationPolicy": (33, None),
    # the allowlist of the "NeverVerifyAllowlistedImages" policy above: same KEP (2535), same release (upstream
    # staging/src/k8s.io/kubelet/config/v1beta1/types.go documents the two together)
    "preloadedImagesVerificationAllowlist": (33, None),
    "mergeDefaultEvictionSettings": (34, None),
}


def _base(cluster_dns: Sequence[str], cluster_domain: str, cgroup_driver: str) -> dict[str, Any]:
    """The kubelet's v1beta1 defaults (``SetDefaults_KubeletConfiguration``) plus what Kamaji sets (§3.10)."""
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": "0.0.0.0",
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"cacheTTL": "2m0s", "enabled": True},
            "x509": {"clientCAFile": "/etc/kubernetes/pki/ca.crt"},
        },
        "authorization": {"mode": "Webhook", "webhook": {"cacheAuthorizedTTL": "5m0s", "cacheUnauthorizedTTL": "30s"}},
        "cgroupDriver": cgroup_driver,
        "cgroupsPerQOS": True,
        "clusterDNS": list(cluster_dns),
        "clusterDomain": cluster_domain,
        "configMapAndSecretChangeDetectionStrategy": "Watch",
        "containerLogMaxFiles": 5,
        "containerLogMaxSize": "10Mi",
        "contentType": "application/vnd.kubernetes.protobuf",
        "cpuCFSQuota": True,
        "cpuCFSQuotaPeriod": "100ms",
        "cpuManagerPolicy": "none",
        "cpuManagerReconcilePeriod": "10s",
        "enableControllerAttachDetach": True,
        "enableDebuggingHandlers": True,
        "enforceNodeAllocatable": ["pods"],
        "eventBurst": 100,
        "eventRecordQPS": 50,
        "evictionHard": {
            "imagefs.available": "15%",
            "memory.available": "100Mi",
            "nodefs.available": "10%",
            "nodefs.inodesFree": "5%",
        },
        "evictionPressureTransitionPeriod": "5m0s",
        "failSwapOn": True,
        "fileCheckFrequency": "20s",
        "hairpinMode": "promiscuous-bridge",
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "httpCheckFrequency": "20s",
        "imageGCHighThresholdPercent": 85,
        "imageGCLowThresholdPercent": 80,
        "imageMinimumGCAge": "2m0s",
        "kubeAPIBurst": 100,
        "kubeAPIQPS": 50,
        "logging": {
            "flushFrequency": "5s",
            "options": {"json": {"infoBufferSize": "0"}, "text": {"infoBufferSize": "0"}},
            "verbosity": 0,
        },
        "maxOpenFiles": 1000000,
        "maxPods": 110,
        "memoryManagerPolicy": "None",
        "memorySwap": {},
        "memoryThrottlingFactor": 0.9,
        "nodeLeaseDurationSeconds": 40,
        "nodeStatusMaxImages": 50,
        "nodeStatusReportFrequency": "5m0s",
        "nodeStatusUpdateFrequency": "10s",
        "oomScoreAdj": -999,
        "podPidsLimit": -1,
        "port": 10250,
        "registerNode": True,
        "registryBurst": 10,
        "registryPullQPS": 5,
        "rotateCertificates": True,
        "runtimeRequestTimeout": "2m0s",
        "seccompDefault": False,
        "serializeImagePulls": True,
        "shutdownGracePeriod": "0s",
        "shutdownGracePeriodCriticalPods": "0s",
        "staticPodPath": "/etc/kubernetes/manifests",
        "streamingConnectionIdleTimeout": "4h0m0s",
        "syncFrequency": "1m0s",
        "topologyManagerPolicy": "none",
        "topologyManagerScope": "container",
        "volumePluginDir": "/usr/libexec/kubernetes/kubelet-plugins/volume/exec/",
        "volumeStatsAggPeriod": "1m0s",
    }


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise RenderError(f"{path!r} is not a JSON pointer")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> tuple[Any, str]:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise RenderError(f"path {path!r} does not exist")
    return node, parts[-1]


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent, last = _parent(doc, parts, path)
    try:
        return parent[int(last)] if isinstance(parent, list) else parent[last]
    except (KeyError, IndexError, ValueError):
        raise RenderError(f"path {path!r} does not exist") from None


def _remove(doc: Any, path: str) -> Any:
    parent, last = _parent(doc, _pointer(path), path)
    try:
        return parent.pop(int(last)) if isinstance(parent, list) else parent.pop(last)
    except (KeyError, IndexError, ValueError):
        raise RenderError(f"path {path!r} does not exist") from None


def _add(doc: Any, path: str, value: Any, *, replace: bool = False) -> None:
    parent, last = _parent(doc, _pointer(path), path)
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last) if last.isdigit() else -1
        if not 0 <= index <= len(parent) - (1 if replace else 0):
            raise RenderError(f"path {path!r}: index out of range")
        if replace:
            parent[index] = value
        else:
            parent.insert(index, value)
    elif isinstance(parent, dict):
        if replace and last not in parent:
            raise RenderError(f"path {path!r} does not exist")
        parent[last] = value
    else:
        raise RenderError(f"path {path!r}: parent is not a container")


def apply_json_patch(doc: dict[str, Any], patches: Sequence[JSONPatch]) -> dict[str, Any]:
    """RFC 6902 on a copy of ``doc``. Errors name the operation's index (``[i]``)."""
    out = copy.deepcopy(doc)
    for i, patch in enumerate(patches):
        try:
            if patch.op == "add":
                _add(out, patch.path, copy.deepcopy(patch.value))
            elif patch.op == "remove":
                _remove(out, patch.path)
            elif patch.op == "replace":
                _add(out, patch.path, copy.deepcopy(patch.value), replace=True)
            elif patch.op == "move":
                _add(out, patch.path, _remove(out, patch.from_ or ""))
            elif patch.op == "copy":
                _add(out, patch.path, copy.deepcopy(_get(out, patch.from_ or "")))
            elif patch.op == "test" and _get(out, patch.path) != patch.value:
                raise RenderError(f"test failed at {patch.path!r}")
        except RenderError as exc:
            raise RenderError(f"spec.kubernetes.kubelet.configurationJSONPatches[{i}]: {exc}") from None
    return out


def kubelet_configuration(
    *,
    kubelet_minor: int,
    cluster_dns: Sequence[str],
    cluster_domain: str,
    cgroup_driver: str | None,
    patches: Sequence[JSONPatch] = (),
) -> dict[str, Any]:
    config = _base(cluster_dns, cluster_domain, cgroup_driver or "systemd")
    for field, (minor, value) in FIELDS_ADDED.items():
        if value is not None and minor <= kubelet_minor:
            config[field] = copy.deepcopy(value)
    config = apply_json_patch(config, patches)
    for field, (minor, _) in FIELDS_ADDED.items():
        if minor > kubelet_minor:
            config.pop(field, None)
    return config


@functools.lru_cache(maxsize=64)
def _unpatched_yaml(
    kubelet_minor: int, cluster_dns: tuple[str, ...], cluster_domain: str, cgroup_driver: str | None
) -> str:
    config = kubelet_configuration(
        kubelet_minor=kubelet_minor, cluster_dns=cluster_dns, cluster_domain=cluster_domain, cgroup_driver=cgroup_driver
    )
    return dump_yaml(config).decode()


def kubelet_configuration_yaml(
    *,
    kubelet_minor: int,
    cluster_dns: tuple[str, ...],
    cluster_domain: str,
    cgroup_driver: str | None,
    patches: Sequence[JSONPatch] = (),
) -> str:
    """``kubelet_configuration`` as the YAML text of the kubelet-config ConfigMap. Without patches (the common
    case) the text depends on four strings and ints only, so it is memoized; patches are not (their values are
    arbitrary JSON, where ``1 == True`` would make a cache key ambiguous)."""
    if patches:
        config = kubelet_configuration(
            kubelet_minor=kubelet_minor,
            cluster_dns=cluster_dns,
            cluster_domain=cluster_domain,
            cgroup_driver=cgroup_driver,
            patches=patches,
        )
        return dump_yaml(config).decode()
    return _unpatched_yaml(kubelet_minor, cluster_dns, cluster_domain, cgroup_driver)
