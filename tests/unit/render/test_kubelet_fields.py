"""kubelet-config against upstream's KubeletConfiguration field tree of each kubelet minor (1.28-1.36).

``kubelet_fields.json`` is generated from upstream's types.go of every minor (see gen_kubelet_fields.py): the only
structured schema of KubeletConfiguration at hand offline (kubernetes-validate bundles the apiserver's OpenAPI,
which has no KubeletConfiguration).
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
from _inputs import doc, render_doc
from hypothesis import given, settings
from hypothesis import strategies as st

from kamaji.api.tenant import JSONPatch
from kamaji.render import FIELDS_ADDED, kubelet_configuration, load_yaml_all

FIELDS: dict[int, dict[str, list[str]]] = {
    int(minor): tree
    for minor, tree in json.loads((pathlib.Path(__file__).parent / "kubelet_fields.json").read_text()).items()
}
MINORS = sorted(FIELDS)


def unknown_fields(config: dict[str, Any], minor: int, path: str = "") -> list[str]:
    """Every key a strict decoder of kubelet 1.``minor`` would reject (struct-valued nodes are checked, maps,
    lists and scalars are leaves)."""
    known = FIELDS[minor][path]
    out = []
    for key, value in config.items():
        where = f"{path}/{key}" if path else key
        if key not in known:
            out.append(where)
        elif isinstance(value, dict) and where in FIELDS[minor]:
            out += unknown_fields(value, minor, where)
    return out


def paths(minor: int) -> set[str]:
    """Every field path of kubelet 1.``minor``."""
    return {f"{parent}/{name}" if parent else name for parent, names in FIELDS[minor].items() for name in names}


def first_minor(path: str) -> int | None:
    return next((m for m in MINORS if path in paths(m)), None)


def test_the_window_is_kamajis_oldest_kubelet_to_its_newest() -> None:
    from kamaji.api import MAX_SUPPORTED_MINOR, MIN_SUPPORTED_MINOR

    # a kubelet may be three minors older than its control plane (render() enforces that skew)
    assert list(range(MIN_SUPPORTED_MINOR - 3, MAX_SUPPORTED_MINOR + 1)) == MINORS


def test_the_table_is_complete_and_each_minor_is_upstreams() -> None:
    """Every field upstream added within the window is in FIELDS_ADDED (itself or an ancestor added with it), at
    the minor whose types.go first has it; and no entry names a field upstream never had."""
    added = paths(MINORS[-1]) - paths(MINORS[0])
    for path in sorted(added):
        ancestors = ["/".join(path.split("/")[: i + 1]) for i in range(path.count("/") + 1)]
        entry = next((a for a in ancestors if a in FIELDS_ADDED), None)
        assert entry is not None, f"{path} (added in 1.{first_minor(path)}) is missing from FIELDS_ADDED"
        assert FIELDS_ADDED[entry][0] == first_minor(path), path
    for field, (minor, _) in FIELDS_ADDED.items():
        assert first_minor(field) == minor, field


@pytest.mark.parametrize("minor", MINORS)
@pytest.mark.parametrize("driver", [None, "cgroupfs"])
def test_unpatched_config_has_only_fields_the_kubelet_knows(minor: int, driver: str | None) -> None:
    config = kubelet_configuration(
        kubelet_minor=minor, cluster_dns=["10.96.0.10", "fd00::10"], cluster_domain="c.local", cgroup_driver=driver
    )
    assert unknown_fields(config, minor) == []
    # and the written defaults of the minor are there (a table entry silently never written would pass above)
    for field, (added, value) in FIELDS_ADDED.items():
        if value is not None and added <= minor:
            node: Any = config
            for part in field.split("/"):
                node = node[part]
            assert node == value, field


@pytest.mark.parametrize("minor", range(31, 37))
def test_rendered_kubelet_config_map_fits_each_kubelet_the_skew_allows(minor: int) -> None:
    """Through render(): a tenant of 1.``minor`` and each kubelet minor it accepts (itself and three older)."""
    d = doc()
    d["spec"]["kubernetes"]["version"] = f"v1.{minor}.1"
    for kubelet in range(minor - 3, minor + 1):
        rendered = render_doc(d, kubelet_minor=kubelet)
        [config] = load_yaml_all(rendered.find("ConfigMap", "kubelet-config", "kube-system")["data"]["kubelet"])
        assert unknown_fields(config, kubelet) == [], (minor, kubelet)


#: the entries this check added or moved, with their minors written out (not read from the table): a patch adding
#: the field is dropped for the kubelet one minor older and kept for its own minor
CORRECTED = {
    "podLogsDir": (30, "/data/pod-logs"),
    "logging/options/text": (30, {"splitStream": True}),
    "singleProcessOOMKill": (32, True),
    "mergeDefaultEvictionSettings": (33, True),
    "userNamespaces": (33, {"idsPerPod": 131072}),
    "memoryReservationPolicy": (36, "TieredReservation"),
    "tlsCurvePreferences": (36, [23, 29]),
}


@pytest.mark.parametrize("field", sorted(CORRECTED))
def test_a_corrected_field_is_dropped_below_its_minor_and_kept_from_it(field: str) -> None:
    minor, value = CORRECTED[field]
    patch = [JSONPatch(op="add", path=f"/{field}", value=value)]
    *parents, last = field.split("/")

    def node(kubelet: int) -> dict[str, Any]:
        out: Any = kubelet_configuration(
            kubelet_minor=kubelet,
            cluster_dns=["10.96.0.10"],
            cluster_domain="c.local",
            cgroup_driver=None,
            patches=patch,
        )
        for part in parents:
            out = out[part]
        assert isinstance(out, dict)
        return out

    assert last not in node(minor - 1)
    assert node(minor)[last] == value
    assert node(36)[last] == value


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5), lambda c: st.lists(c, max_size=2), max_leaves=4
)


@settings(max_examples=60, deadline=None)
@given(
    minor=st.sampled_from(MINORS),
    fields=st.lists(st.sampled_from(sorted(FIELDS_ADDED)), max_size=5, unique=True),
    value=_json,
    replace_logging=st.booleans(),
)
def test_patches_of_newer_fields_never_reach_an_older_kubelet(
    minor: int, fields: list[str], value: Any, replace_logging: bool
) -> None:
    """Whatever table fields a user patches in (also under a replaced ``logging``), the result for kubelet
    1.``minor`` has no field its types.go lacks."""
    patches = []
    if replace_logging:
        patches.append(JSONPatch(op="replace", path="/logging", value={"options": {"json": {}, "text": {}}}))
    patches += [JSONPatch(op="add", path=f"/{f}", value=value) for f in fields]
    config = kubelet_configuration(
        kubelet_minor=minor, cluster_dns=["10.96.0.10"], cluster_domain="c.local", cgroup_driver=None, patches=patches
    )
    assert unknown_fields(config, minor) == []
