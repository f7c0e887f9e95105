"""The package's layers import one way, and the generic code names no family.

    model -> math -> draw -> engines -> proof -> running -> output -> cli

A module may import from its own layer and the layers above it (to its left), never below;
`verify/__init__.py` (the public contract) may import anything. Families under properties/ are
discovered by the registry alone: no other module of verify/ imports them or names them.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "verify"
LAYERS = ["model", "math", "draw", "engines", "proof", "running", "output", "cli"]
FAMILIES = sorted(p.name.upper() for p in (ROOT.parent / "properties").iterdir() if (p / "__init__.py").exists())


def layer_of(module: str) -> int | None:
    """The layer index of a dotted module inside verify (None for verify itself and non-verify modules)."""
    parts = module.split(".")
    if parts[0] != "verify" or len(parts) < 2:
        return None
    name = parts[1]
    if name in ("cli", "__main__"):
        return LAYERS.index("cli")
    return LAYERS.index(name) if name in LAYERS else None


def imports(path: Path) -> list[str]:
    """Every module a file imports, at any depth of the file (function-level imports count too)."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found


SOURCES = sorted(p for p in ROOT.rglob("*.py") if p.name != "__init__.py" or p.parent != ROOT)


def dotted(path: Path) -> str:
    return ".".join(path.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__")


def upward(module: str, path: Path) -> list[str]:
    """The modules of lower layers that `module` (the file at `path`) imports."""
    own = layer_of(module)
    assert own is not None, f"{path} is in no layer: put it in one of {LAYERS}"
    return [m for m in imports(path) if (layer_of(m) or -1) > own]


def family_names(text: str) -> list[str]:
    return [f for f in FAMILIES if re.search(rf"[\"']{f}\b", text)]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_imports_point_one_way(path):
    below = upward(dotted(path), path)
    assert not below, f"{dotted(path)} imports from a layer below its own: {below}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_only_the_registry_finds_families(path):
    if dotted(path) == "verify.running.registry":
        return
    assert not [m for m in imports(path) if m.split(".")[0] == "properties"], f"{dotted(path)} imports a family"


GENERIC = [p for p in SOURCES if dotted(p).split(".")[1] in ("engines", "output") or dotted(p) == "verify.running.runner"]


@pytest.mark.parametrize("path", GENERIC, ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_generic_code_names_no_family(path):
    named = family_names(path.read_text())
    assert not named, f"{dotted(path)} names the families {named}: what a family knows belongs in its folder"


def test_the_checks_can_fail(tmp_path):
    """A planted upward import (the old runner <-> report cycle, inside a function) and a planted
    family test (the old runner's) are caught by the functions the tests use."""
    planted = tmp_path / "planted.py"
    planted.write_text("def to_markdown(result):\n    from verify.output.markdown import render_markdown\n")
    assert upward("verify.running.runner", planted) == ["verify.output.markdown"]
    assert family_names('if any(c.family in ("LAYER", "PAPER") for c in claims):') == ["LAYER", "PAPER"]
