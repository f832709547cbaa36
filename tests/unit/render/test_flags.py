"""Kamaji's flag merge rules (§3.6), tested directly."""

from __future__ import annotations

from kamaji.render import (
    APISERVER_SAFE_DEFAULTS,
    args_from_map,
    args_to_map,
    merge_apiserver_args,
    merge_kamaji_wins,
    merge_user_wins,
)

MANAGED = {"--secure-port": "6443", "--advertise-address": "10.0.0.1", "--etcd-servers": "unix:///uds/kine"}


def test_args_map_round_trip_sorts_and_keeps_bare_flags() -> None:
    assert args_to_map(["--b=1", "--a", "--c=x=y", "--b=2"]) == {"--b": "2", "--a": "", "--c": "x=y"}
    assert args_from_map({"--b": "2", "--a": "", "--c": "x=y"}) == ["--a", "--b=2", "--c=x=y"]


def test_apiserver_managed_wins_and_user_duplicate_is_dropped() -> None:
    args = merge_apiserver_args(MANAGED, ["--secure-port=9999", "--audit-log-maxage=7"])
    assert "--secure-port=6443" in args
    assert "--secure-port=9999" not in args
    assert args[-1] == "--audit-log-maxage=7"


def test_apiserver_safe_defaults_yield_to_user() -> None:
    args = merge_apiserver_args(MANAGED, ["--allow-privileged=false"])
    assert "--allow-privileged=true" not in args
    assert args[-1] == "--allow-privileged=false"
    assert "--enable-bootstrap-token-auth=true" in args


def test_authorization_mode_yields_to_authorization_config() -> None:
    args = merge_apiserver_args(MANAGED, ["--authorization-config=/etc/authz.yaml"])
    assert not any(a.startswith("--authorization-mode") for a in args)
    assert "--authorization-mode=Node,RBAC" in merge_apiserver_args(MANAGED, [])


def test_apiserver_block_is_sorted_and_user_extras_are_appended_unsorted_with_duplicates() -> None:
    user = ["--z-flag=1", "--admission-control-config-file=/a", "--z-flag=2", "--a-flag"]
    args = merge_apiserver_args(MANAGED, user)
    block = args[: len(args) - len(user)]
    assert block == sorted(block)
    assert len(block) == len(MANAGED) + len(APISERVER_SAFE_DEFAULTS)
    assert args[len(block) :] == user  # as given: unsorted, the repeatable flag twice


def test_apiserver_keeps_foreign_existing_flags_unless_managed_default_or_user() -> None:
    existing = ["--egress-selector-config-file=/e.yaml", "--secure-port=1", "--allow-privileged=maybe", "--x=old"]
    args = merge_apiserver_args(MANAGED, ["--x=new"], existing=existing)
    assert "--egress-selector-config-file=/e.yaml" in args
    assert "--secure-port=6443" in args and "--secure-port=1" not in args
    assert "--allow-privileged=true" in args and "--allow-privileged=maybe" not in args
    assert "--x=old" not in args and args[-1] == "--x=new"


def test_scheduler_map_merge_kamaji_wins_sorted() -> None:
    managed = {"--leader-elect": "true", "--bind-address": "0.0.0.0"}
    assert merge_kamaji_wins(managed, ["--v=4", "--leader-elect=false", "--v=5"]) == [
        "--bind-address=0.0.0.0",
        "--leader-elect=true",
        "--v=5",
    ]


def test_controller_manager_map_merge_user_wins_sorted() -> None:
    managed = {"--leader-elect": "true", "--allocate-node-cidrs": "true"}
    assert merge_user_wins(managed, ["--node-monitor-grace-period=60s", "--allocate-node-cidrs=false"]) == [
        "--allocate-node-cidrs=false",
        "--leader-elect=true",
        "--node-monitor-grace-period=60s",
    ]
