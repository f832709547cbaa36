"""The tenant's KubeletConfiguration, rendered for a target kubelet minor.

The configuration kubeadm uploads is written for the *oldest kubelet that will read it* (``kubelet_minor``): every
field of ``FIELDS_ADDED`` newer than that minor is removed, also after the user's JSON patches. A field unknown to
the node's kubeadm/kubelet is dropped with a warning (kubeadm decodes leniently after a strict check; the kubelet
falls back to lenient v1beta1 decoding), so sending it would silently lose the setting. What makes a kubelet
refuse to start is a field it knows but whose feature gate is off at its minor (Kamaji #1062): Kamaji writes none
of those (``None`` in the table); docs/rendering.md has the evidence.
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

#: KubeletConfiguration (kubelet.config.k8s.io/v1beta1) fields by the kubelet minor that introduced them, with the
#: value Kamaji writes (``None``: not written unless a patch adds it; the kubelet defaults it itself). Keys are
#: top-level field names or slash-separated paths of nested ones. Complete for 1.28-1.36: every field of upstream's
#: types.go at ``k8s.io/kubelet`` v0.36.0 absent at v0.28.0 is here (tests/unit/render/kubelet_fields.json, and
#: docs/rendering.md for the evidence). "kubelet vX" below: config/v1beta1/types.go of that module tag.
FIELDS_ADDED: dict[str, tuple[int, Any]] = {
    "imageMaximumGCAge": (29, "0s"),  # kubernetes#121275 (KEP-4210): absent in kubelet v0.28.0, in v0.29.0
    "containerLogMaxWorkers": (30, 1),  # kubelet v0.30.0
    "containerLogMonitorInterval": (30, "10s"),  # kubelet v0.30.0
    "podLogsDir": (30, None),  # kubernetes#112957, kubelet v0.30.0; kubeadm writes /var/log/pods, the default
    # component-base logsapi TextOptions: in component-base v0.30.0, not v0.29.0 (which only has options.json)
    "logging/options/text": (30, {"infoBufferSize": "0"}),
    "failCgroupV1": (31, None),  # kubelet v0.31.0
    "crashLoopBackOff": (32, {}),  # kubernetes#128374 (KEP-4603), kubelet v0.32.0, with maxContainerRestartPeriod
    "singleProcessOOMKill": (32, None),  # kubernetes#126096, kubelet v0.32.0 (its 1.31 cherry-pick was closed)
    "imagePullCredentialsVerificationPolicy": (33, None),  # kubelet v0.33.0 (KEP-2535)
    "preloadedImagesVerificationAllowlist": (33, None),  # kubelet v0.33.0, same KEP
    "mergeDefaultEvictionSettings": (33, None),  # kubernetes#127577, kubelet v0.33.0 (was 34 here: wrong)
    "userNamespaces": (33, None),  # kubernetes#130028 (userNamespaces.idsPerPod), kubelet v0.33.0
    "memoryReservationPolicy": (36, None),  # kubelet v0.36.0; kubeadm writes "None", the default
    "tlsCurvePreferences": (36, None),  # kubelet v0.36.0
}


def _parts(field: str) -> tuple[list[str], str]:
    *parents, last = field.split("/")
    return parents, last


def _set_field(config: dict[str, Any], field: str, value: Any) -> None:
    parents, last = _parts(field)
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = copy.deepcopy(value)


def _drop_field(config: dict[str, Any], field: str) -> None:
    parents, last = _parts(field)
    node: Any = config
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(last, None)


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
            "options": {"json": {"infoBufferSize": "0"}},  # options.text: FIELDS_ADDED
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
            _set_field(config, field, value)
    config = apply_json_patch(config, patches)
    for field, (minor, _) in FIELDS_ADDED.items():
        if minor > kubelet_minor:
            _drop_field(config, field)
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
