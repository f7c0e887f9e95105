"""ICL: linear self-attention as gradient descent on in-context least squares (spec: claims-packs.md, ICL)."""

from properties.icl.claims import CLAIMS
from properties.icl.report import section

ORDER = 60

__all__ = ["CLAIMS", "ORDER", "section"]
