"""The registry: every family folder under `properties/`, discovered, and its claims.

A family is a subpackage of `properties` that exports `ORDER` (its place in reports) and
`CLAIMS`; it may export `extras(seed)`, `section(data, report)` and `figures(data, folder)`
for what the report shows about it. A subpackage that exports no `CLAIMS` is an error, not a
family whose claims silently never run.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from verify.model.claim import Claim


@dataclass(frozen=True)
class Family:
    """One folder of claims and what it tells the report."""

    name: str
    order: int
    claims: tuple[Claim, ...]
    doc: str = ""
    extras: Callable[[int], dict[str, Any]] | None = None
    section: Callable[[dict[str, Any], dict[str, Any]], list[str]] | None = None
    findings: Callable[[dict[str, Any], dict[str, Any]], list[str]] | None = None
    figures: Callable[[dict[str, Any], Path], dict[str, str]] | None = None

    @staticmethod
    def of(module: ModuleType) -> Family:
        claims = getattr(module, "CLAIMS", None)
        if not claims:
            raise ImportError(f"family {module.__name__} exports no CLAIMS: declare its claims in its claims.py "
                              "and export them from its __init__.py")
        names = {c.family for c in claims}
        if len(names) != 1:
            raise ValueError(f"family {module.__name__} declares claims of several families: {sorted(names)}")
        return Family(
            name=names.pop(), order=int(getattr(module, "ORDER", 1000)), claims=tuple(claims), doc=module.__doc__ or "",
            extras=getattr(module, "extras", None), section=getattr(module, "section", None),
            findings=getattr(module, "findings", None), figures=getattr(module, "figures", None),
        )


@cache
def families() -> tuple[Family, ...]:
    """Every family under properties/, in report order."""
    import properties

    found = []
    for info in pkgutil.iter_modules(properties.__path__):
        if info.ispkg:
            found.append(Family.of(importlib.import_module(f"properties.{info.name}")))
    return tuple(sorted(found, key=lambda f: (f.order, f.name)))


def registry() -> dict[str, Claim]:
    """{claim id: Claim} for every claim under properties/, in the report's order."""
    claims: dict[str, Claim] = {}
    for family in families():
        for claim in family.claims:
            if claim.id in claims:
                raise ValueError(f"claim id {claim.id} is declared twice")
            claims[claim.id] = claim
    return claims
