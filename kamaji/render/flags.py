"""Kamaji's command-line flag merge rules (internal/builders/controlplane/deployment.go), one function per component.

Flags are ``--name=value`` or ``--name``; ``flag_name`` is the part before the first ``=``. A "map" merge keeps one
value per name and writes the flags sorted by name (Kamaji's ``ArgsFromMapToSlice``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "APISERVER_SAFE_DEFAULTS",
    "args_from_map",
    "args_to_map",
    "flag_name",
    "merge_apiserver_args",
    "merge_controller_manager_args",
    "merge_kamaji_wins",
    "merge_user_wins",
]

#: Used only when the user did not pass the flag (``--authorization-mode`` also yields to ``--authorization-config``).
APISERVER_SAFE_DEFAULTS: dict[str, str] = {
    "--allow-privileged": "true",
    "--authorization-mode": "Node,RBAC",
    "--enable-bootstrap-token-auth": "true",
    "--requestheader-extra-headers-prefix": "X-Remote-Extra-",
    "--requestheader-group-headers": "X-Remote-Group",
    "--requestheader-username-headers": "X-Remote-User",
    "--service-account-issuer": "https://kubernetes.default.svc.cluster.local",
}


def flag_name(arg: str) -> str:
    return arg.split("=", 1)[0]


def args_to_map(args: Iterable[str]) -> dict[str, str]:
    """``["--a=1", "--b"]`` → ``{"--a": "1", "--b": ""}``; a later duplicate wins (Kamaji's ArgsFromSliceToMap)."""
    out: dict[str, str] = {}
    for arg in args:
        name, _, value = arg.partition("=")
        out[name] = value
    return out


def args_from_map(args: Mapping[str, str]) -> list[str]:
    """Sorted by flag name; an empty value writes the bare flag."""
    return [f"{k}={args[k]}" if args[k] else k for k in sorted(args)]


def merge_kamaji_wins(managed: Mapping[str, str], user: Sequence[str]) -> list[str]:
    """Map merge where Kamaji's flags win (kube-scheduler, konnectivity-server): user flags first, then managed."""
    merged = args_to_map(user)
    merged.update(managed)
    return args_from_map(merged)


def merge_user_wins(managed: Mapping[str, str], user: Sequence[str]) -> list[str]:
    """Map merge where the user's flags win (kube-controller-manager, kine before its forced ``--endpoint``)."""
    merged = dict(managed)
    merged.update(args_to_map(user))
    return args_from_map(merged)


merge_controller_manager_args = merge_user_wins


def merge_apiserver_args(
    managed: Mapping[str, str],
    user: Sequence[str],
    *,
    defaults: Mapping[str, str] = APISERVER_SAFE_DEFAULTS,
    existing: Sequence[str] = (),
) -> list[str]:
    """kube-apiserver: a sorted Kamaji-owned block, then the user's flags as given.

    1. keep each ``existing`` flag that is neither managed, nor a safe default, nor passed by the user;
    2. add each safe default the user did not pass (``--authorization-mode`` also yields to
       ``--authorization-config``);
    3. add the managed flags (they always win);
    4. sort that block by flag name;
    5. append the user's flags unsorted, dropping those that name a managed flag; repeatable flags stay duplicated.
    """
    user_names = {flag_name(a) for a in user}
    block: dict[str, str] = {}
    for name, value in args_to_map(existing).items():
        if name not in managed and name not in defaults and name not in user_names:
            block[name] = value
    for name, value in defaults.items():
        if name in user_names:
            continue
        if name == "--authorization-mode" and "--authorization-config" in user_names:
            continue
        block[name] = value
    block.update(managed)
    return args_from_map(block) + [a for a in user if flag_name(a) not in managed]
