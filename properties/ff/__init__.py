"""FF: the feed-forward block as (proximal) gradient descent (spec section FF)."""

from properties.ff.claims import CLAIMS

ORDER = 20

__all__ = ["CLAIMS", "ORDER"]
