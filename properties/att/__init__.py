"""ATT: softmax self-attention as majorization-minimization (spec section ATT)."""

from properties.att.claims import CLAIMS
from properties.att.report import section

ORDER = 10

__all__ = ["CLAIMS", "ORDER", "section"]
