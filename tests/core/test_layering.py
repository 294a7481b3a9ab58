"""The core of simfocus/ never imports ray, fastapi, starlette, actors or serve."""

from __future__ import annotations

import ast
from pathlib import Path

import simfocus

FORBIDDEN = {"ray", "fastapi", "starlette", "actors", "serve"}
CORE = Path(simfocus.__file__).parent
EXEMPT = CORE / "cli"  # the composition root wires everything together


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_modules_import_no_ray_or_http_framework() -> None:
    offenders = {
        str(path.relative_to(CORE.parent)): sorted(_imports(path) & FORBIDDEN)
        for path in CORE.rglob("*.py")
        if EXEMPT not in path.parents and _imports(path) & FORBIDDEN
    }
    assert offenders == {}


def test_the_check_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom ray.util import metrics\nimport fastapi.routing\n")
    assert _imports(bad) & FORBIDDEN == {"ray", "fastapi"}
