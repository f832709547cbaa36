"""The pure core's output does not depend on the process: same input, same bytes, any PYTHONHASHSEED."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).parents[3] / "docs" / "examples"
SCRIPT = f"""
import sys
from pathlib import Path
from kamaji import api
for path in sorted(Path({str(EXAMPLES)!r}).glob("*.yaml")):
    objects = [api.default(o) if isinstance(o, api.TenantControlPlane) else o for o in api.load_yaml(path.read_text())]
    sys.stdout.write(api.dump_yaml(objects))
sys.stdout.write(api.dump_yaml(api.crds()))
"""


def _run(seed: str) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, check=True).stdout


def test_defaulted_examples_and_crds_are_byte_identical_across_hash_seeds() -> None:
    outputs = {_run(seed) for seed in ("0", "1", "12345")}
    assert len(outputs) == 1
    assert b"kind: CustomResourceDefinition" in outputs.pop()
