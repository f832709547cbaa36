"""The error tree drawn in kamaji/errors.py's docstring names every public KamajiError subclass of the library."""

from __future__ import annotations

import importlib
import pkgutil
import re

import kamaji
import kamaji.errors
from kamaji.errors import KamajiError


def _all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


def test_every_error_class_is_drawn_in_the_tree() -> None:
    for module in pkgutil.walk_packages(kamaji.__path__, "kamaji."):
        if "._pb" not in module.name and not module.name.endswith(("pytest_plugin", "__main__")):
            importlib.import_module(module.name)
    public = {c.__name__ for c in _all_subclasses(KamajiError) if c.__module__.startswith("kamaji")}
    public = {name for name in public if not name.startswith("_")}
    doc = kamaji.errors.__doc__ or ""
    drawn = set(re.findall(r"[├└]── (\w+)", doc))
    assert public <= drawn, sorted(public - drawn)
    assert drawn <= public | {"KamajiError"}, sorted(drawn - public)
    assert len(public) >= 25
