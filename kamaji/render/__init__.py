"""Rendering: every Kubernetes object Kamaji creates for a tenant control plane, as a pure function.

``render(tcp, pki_bundle, storage)`` → ``Rendered`` (management-side and tenant-side objects in apply order).
No clock, no environment, no randomness, no I/O: the same inputs give byte-identical YAML everywhere. See
docs/rendering.md.
"""

from kamaji.render.flags import (
    APISERVER_SAFE_DEFAULTS,
    args_from_map,
    args_to_map,
    merge_apiserver_args,
    merge_kamaji_wins,
    merge_user_wins,
)
from kamaji.render.inputs import DEFAULT_KINE_IMAGE, EtcdOverride, Images, StorageConnection
from kamaji.render.kubelet import FIELDS_ADDED, apply_json_patch, kubelet_configuration
from kamaji.render.ordering import KIND_RANK, sort_objects
from kamaji.render.render import Rendered, Requirement, render
from kamaji.render.serialize import dump_json, dump_yaml, dump_yaml_all, kamaji_md5, load_yaml_all, sha256_json

__all__ = [
    "APISERVER_SAFE_DEFAULTS",
    "DEFAULT_KINE_IMAGE",
    "FIELDS_ADDED",
    "KIND_RANK",
    "EtcdOverride",
    "Images",
    "Rendered",
    "Requirement",
    "StorageConnection",
    "apply_json_patch",
    "args_from_map",
    "args_to_map",
    "dump_json",
    "dump_yaml",
    "dump_yaml_all",
    "kamaji_md5",
    "kubelet_configuration",
    "load_yaml_all",
    "merge_apiserver_args",
    "merge_kamaji_wins",
    "merge_user_wins",
    "render",
    "sha256_json",
    "sort_objects",
]
