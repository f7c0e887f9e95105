"""PAPER-CODE: the paper's own energy-curve model, from the formulas in the spec."""

from properties.paper.claims import CLAIMS
from properties.paper.report import extras, figures, findings, section

ORDER = 50

__all__ = ["CLAIMS", "ORDER", "extras", "figures", "findings", "section"]
