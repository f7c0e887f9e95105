"""HOPFIELD: the modern Hopfield update as a CCCP step (spec: claims-packs.md, HOPFIELD)."""

from properties.hopfield.claims import CLAIMS
from properties.hopfield.report import section

ORDER = 70

__all__ = ["CLAIMS", "ORDER", "section"]
