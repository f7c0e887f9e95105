"""Device discipline without a GPU: every tensor the library creates is created on the device of
the case it serves.

CI has no GPU, so a CPU-only constructor inside a check (the cause of two CUDA crashes: a
halved batch's undecided slacks built on the CPU, a solver's answer brought back without a
device) is caught by reading the source: a torch constructor in verify/ or properties/ names its
`device=` (or copies one: `*_like`, `.new_*`), or says on its line why the host is right
(`# host: ...`, e.g. the spec's example cases, which checks move to the device with Case.to).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONSTRUCTORS = {"tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "eye", "arange", "linspace",
                "rand", "randn", "randint", "randperm", "Generator"}
SOURCES = sorted(p for d in ("verify", "properties") for p in (ROOT / d).rglob("*.py") if not p.name.startswith("test_"))


def hostless_constructors(source: str) -> list[int]:
    """Lines of torch constructors that name no device and carry no `# host:` reason."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CONSTRUCTORS):
            continue
        if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "torch"):
            continue
        if any(k.arg == "device" for k in node.keywords) or (node.func.attr == "Generator" and node.args):
            continue
        span = lines[node.lineno - 1:(node.end_lineno or node.lineno)]
        if not any("# host:" in line for line in span):
            found.append(node.lineno)
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_constructor_names_its_device(path):
    lines = hostless_constructors(path.read_text())
    assert not lines, f"{path.relative_to(ROOT)}: torch constructors without device= at lines {lines}"


def test_a_planted_cpu_constructor_is_caught():
    planted = (
        "def undecided(size, reason):\n"
        "    nan = torch.full((size,), math.nan, dtype=torch.float64)\n"
        "    return nan\n"
    )
    assert hostless_constructors(planted) == [2]
    assert hostless_constructors(planted.replace("dtype=torch.float64)", "dtype=torch.float64, device=device)")) == []
