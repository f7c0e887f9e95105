"""LAYER: heterogeneous layers and alternating descent (spec section LAYER)."""

from properties.layer.claims import CLAIMS

ORDER = 40

__all__ = ["CLAIMS", "ORDER"]
