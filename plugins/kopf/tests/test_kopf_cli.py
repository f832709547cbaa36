"""``kamaji operator`` is registered through the kamaji.cli entry-point group."""

from __future__ import annotations

import subprocess
import sys


def test_kamaji_operator_is_a_subcommand() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "kamaji.cli", "operator", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--datastore" in out
    assert "--namespace" in out


def test_the_handlers_register_with_kopf() -> None:
    import kopf

    import kamaji_kopf

    registry = kopf.get_default_registry()
    ids = {h.id for h in registry._changing.get_all_handlers()}
    assert any("handle_tenant" in i for i in ids), ids
    assert any("handle_datastore" in i for i in ids), ids
    assert callable(kamaji_kopf.install_crds)
