"""NORM: layer normalization as a projection (spec section NORM)."""

from properties.norm.claims import CLAIMS

ORDER = 30

__all__ = ["CLAIMS", "ORDER"]
