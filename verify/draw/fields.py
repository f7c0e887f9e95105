"""The fields of a case, for a researcher's own layer: token matrices in their regimes, weights of
a kind, scalars in a range. Each field draws itself from a `Source` (so both backends work) and
knows its domain: `holds` says whether a value lies in it and `project` maps a value back onto it,
so that a search moving a case by gradient steps (verify.engines.climb) keeps it drawable.

    cases = verify.draw.cases(n=(2, 6), d=(2, 4), Y=verify.draw.tokens(), W=verify.draw.psd(),
                              a=verify.draw.uniform(0.0, 2.0))
    verify.check_descent(step, energy, cases=cases)        # step(Y, W=..., a=...), energy(Y, W=..., a=...)

Fields are drawn in the order given; a field that depends on another (equal W-norm tokens on W)
names it, and must come after it. `n` and `d` are drawn first and shared by every field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from verify.draw.matrices import antisymmetric, indefinite_spectrum, orthogonal, psd_spectrum, spectral
from verify.draw.regimes import equal_w_norm_rows, unit_rows
from verify.draw.source import Description, Source
from verify.model.case import Case

REGIMES = ("free", "scaled", "row-scaled", "coincident", "outlier", "equal-norms", "low-rank", "signs", "integers")


class Field:
    """One field of a case: how it is drawn and what its domain is."""

    def draw(self, src: Source, n: int, d: int, fields: Mapping[str, Tensor]) -> Tensor:
        raise NotImplementedError

    def holds(self, value: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
        """(B,) bool: the value lies in the field's domain (everything, unless a field says otherwise)."""
        return torch.ones(value.shape[0], dtype=torch.bool, device=value.device)

    def project(self, value: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
        """The nearest point of the domain (the value itself, unless a field says otherwise)."""
        return value


class Tokens(Field):
    """(B, n, d) token matrices, one regime per case (see REGIMES; the regimes say where cases are
    drawn, not a domain: every matrix is in it, and a climb may leave a regime):
    free         entries in [-1, 1] times a scale log-uniform over `scale`
    scaled       the same, but the scale is one of 1e-3, 1, 1e3 exactly (the extremes)
    row-scaled   each row its own log-uniform scale
    coincident   one row plus noise 1e-3 of its size: nearly coincident tokens
    outlier      free rows, one of them 100 times larger
    equal-norms  rows of equal Euclidean norm
    low-rank     a product of (n, 1) and (1, d) factors plus a rank-one term: rank <= 2
    signs        entries +-1 times the scale
    integers     small integers in [-3, 3]
    For tokens restricted to a set (equal norms), use the field that knows that domain."""

    def __init__(self, regimes: tuple[str, ...] = REGIMES, scale: tuple[float, float] = (1e-3, 1e3)) -> None:
        unknown = [r for r in regimes if r not in REGIMES]
        if unknown or not regimes:
            raise ValueError(f"regimes must be some of {', '.join(REGIMES)}, got {regimes!r}")
        if not 0 < scale[0] <= scale[1]:
            raise ValueError(f"scale must be (low, high) with 0 < low <= high, got {scale!r}")
        self.regimes, self.scale = regimes, scale

    def draw(self, src: Source, n: int, d: int, fields: Mapping[str, Tensor]) -> Tensor:
        lo, hi = self.scale
        s = src.log_uniform(lo, hi)[:, None, None]
        base = src.uniform(-1.0, 1.0, (n, d))

        def scaled() -> Tensor:
            extremes = torch.tensor([lo, 1.0, hi], dtype=base.dtype, device=base.device)
            return base * extremes[(src.uniform(0.0, 3.0) - 1e-9).long().clamp(0, 2)][:, None, None]

        options = {
            "free": lambda: base * s,
            "scaled": scaled,
            "row-scaled": lambda: base * src.log_uniform(lo, hi, (n, 1)),
            "coincident": lambda: (base[:, :1] + 1e-3 * base) * s,
            "outlier": lambda: base * s * torch.where(torch.arange(n, device=base.device) == 0, 100.0, 1.0)[:, None],
            "equal-norms": lambda: unit_rows(base) * s,
            "low-rank": lambda: (src.uniform(-1.0, 1.0, (n, 1)) * src.uniform(-1.0, 1.0, (1, d))
                                 + 1e-2 * src.uniform(-1.0, 1.0, (n, 1)) * src.uniform(-1.0, 1.0, (1, d))) * s,
            "signs": lambda: torch.where(base >= 0, 1.0, -1.0) * s,
            "integers": lambda: torch.round(3 * base),
        }
        return src.mix("token regime", {r: options[r] for r in self.regimes})


class EqualNormTokens(Field):
    """(B, n, d) tokens with equal norms: the W-norm y_i^T sym(W) y_i for a weight field W drawn
    before, or the Euclidean norm when `weight` is None (RMS-normed rows up to scale). The domain is
    that set; the projection rescales each row to the rows' mean norm (for a PSD W)."""

    def __init__(self, weight: str | None = "W", radius: tuple[float, float] = (0.1, 3.0)) -> None:
        self.weight, self.radius = weight, radius

    def draw(self, src: Source, n: int, d: int, fields: Mapping[str, Tensor]) -> Tensor:
        base = src.uniform(-3.0, 3.0, (n, d))
        if self.weight is None:
            return unit_rows(base) * src.uniform(*self.radius)[:, None, None]
        if self.weight not in fields:
            raise ValueError(f"equal-norm tokens need the field {self.weight!r} drawn before them")
        return equal_w_norm_rows(base, fields[self.weight], src.uniform(*self.radius))

    def _q(self, value: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
        if self.weight is None:
            return (value * value).sum(-1)
        W = fields[self.weight]
        return ((value @ ((W + W.mT) / 2)) * value).sum(-1)

    def holds(self, value: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
        q = self._q(value, fields)
        return (q.amax(-1) - q.amin(-1)) <= 1e-9 * q.abs().amax(-1).clamp_min(1.0)

    def project(self, value: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
        q = self._q(value, fields).clamp_min(1e-300)
        return value * (q.mean(-1, keepdim=True) / q).sqrt()[..., None]


class Uniform(Field):
    """(B,) numbers in [low, high] (log-uniform when `log`); projected by clamping."""

    def __init__(self, low: float, high: float, log: bool = False) -> None:
        if not low <= high or (log and low <= 0):
            raise ValueError(f"need low <= high{' and low > 0' if log else ''}, got ({low}, {high})")
        self.low, self.high, self.log = low, high, log

    def draw(self, src: Source, n: int, d: int, fields: Mapping[str, Tensor]) -> Tensor:
        return src.log_uniform(self.low, self.high) if self.log else src.uniform(self.low, self.high)

    def holds(self, value: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
        return (value >= self.low) & (value <= self.high)

    def project(self, value: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
        return value.clamp(self.low, self.high)


class Spectral(Field):
    """(B, d, d) symmetric weights with spectrum in [low, high] (Q diag(w) Q^T); the projection
    clamps the eigenvalues of the symmetric part into [low, high]."""

    def __init__(self, low: float, high: float, kind: str = "spread") -> None:
        if not low <= high:
            raise ValueError(f"need low <= high, got ({low}, {high})")
        self.low, self.high, self.kind = low, high, kind

    def draw(self, src: Source, n: int, d: int, fields: Mapping[str, Tensor]) -> Tensor:
        if self.kind == "psd":
            w = psd_spectrum(src, d).clamp(self.low, self.high)
        elif self.kind == "indefinite":
            w = indefinite_spectrum(src, d)
        else:
            w = src.uniform(self.low, self.high, (d,))
        return spectral(orthogonal(src, d), w)

    def holds(self, value: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
        w = torch.linalg.eigvalsh((value + value.mT) / 2)
        size = value.abs().flatten(1).amax(1).clamp_min(1.0)
        symmetric = (value - value.mT).abs().flatten(1).amax(1) <= 1e-12 * size
        return symmetric & (w[..., 0] >= self.low - 1e-10 * size) & (w[..., -1] <= self.high + 1e-10 * size)

    def project(self, value: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
        w, Q = torch.linalg.eigh((value + value.mT) / 2)
        return spectral(Q, w.clamp(self.low, self.high))


class Asymmetric(Field):
    """(B, d, d) a PSD part plus a nonzero antisymmetric part (d >= 2); any matrix is in the domain."""

    def draw(self, src: Source, n: int, d: int, fields: Mapping[str, Tensor]) -> Tensor:
        return spectral(orthogonal(src, d), psd_spectrum(src, d)) + antisymmetric(src, max(d, 2))[..., :d, :d]


class Orthogonal(Field):
    """(B, d, d) rotations; projected by the polar factor (the nearest orthogonal matrix)."""

    def draw(self, src: Source, n: int, d: int, fields: Mapping[str, Tensor]) -> Tensor:
        return orthogonal(src, d)

    def holds(self, value: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
        eye = torch.eye(value.shape[-1], dtype=value.dtype, device=value.device)
        return (value.mT @ value - eye).abs().flatten(1).amax(1) <= 1e-10

    def project(self, value: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
        U, _, Vh = torch.linalg.svd(value)
        return U @ Vh


class Matrix(Field):
    """(B, rows, cols) entries in [low, high]; `rows`, `cols` a number or 'n' / 'd'. Projected by clamping."""

    def __init__(self, rows: int | str = "d", cols: int | str = "d", low: float = -1.0, high: float = 1.0) -> None:
        self.rows, self.cols, self.low, self.high = rows, cols, low, high

    def draw(self, src: Source, n: int, d: int, fields: Mapping[str, Tensor]) -> Tensor:
        size = {"n": n, "d": d}
        shape = tuple(size[x] if isinstance(x, str) else x for x in (self.rows, self.cols))
        return src.uniform(self.low, self.high, shape)

    def holds(self, value: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
        return ((value >= self.low) & (value <= self.high)).flatten(1).all(1)

    def project(self, value: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
        return value.clamp(self.low, self.high)


class Fixed(Field):
    """One given value for every case (a weight the researcher fixes); it is not moved by a search."""

    def __init__(self, value: Tensor) -> None:
        self.value = torch.as_tensor(value, dtype=torch.float64)  # host: a given value, moved to the source's device

    def draw(self, src: Source, n: int, d: int, fields: Mapping[str, Tensor]) -> Tensor:
        return self.value.to(src.device).expand(src.batch, *self.value.shape).clone()

    def project(self, value: Tensor, fields: Mapping[str, Tensor]) -> Tensor:
        return self.value.to(value.device, value.dtype).expand_as(value).clone()


def tokens(regimes: tuple[str, ...] = REGIMES, scale: tuple[float, float] = (1e-3, 1e3)) -> Tokens:
    return Tokens(regimes, scale)


def equal_norm_tokens(weight: str | None = "W", radius: tuple[float, float] = (0.1, 3.0)) -> EqualNormTokens:
    """Rows of equal W-norm (W the named field, drawn before) or, with weight=None, equal Euclidean norm."""
    return EqualNormTokens(weight, radius)


def uniform(low: float, high: float) -> Uniform:
    return Uniform(low, high)


def log_uniform(low: float, high: float) -> Uniform:
    return Uniform(low, high, log=True)


def psd(high: float = 10.0) -> Spectral:
    """W >= 0: scalar, generic, spread over 3 decades or ill-conditioned spectra, at most `high`."""
    return Spectral(0.0, high, kind="psd")


def symmetric(low: float = -3.0, high: float = 3.0) -> Spectral:
    return Spectral(low, high)


def spectrum(low: float, high: float) -> Spectral:
    """Symmetric with every eigenvalue in [low, high]."""
    return Spectral(low, high)


def indefinite() -> Spectral:
    """Symmetric with lmin < 0 (negative scalars included); spectrum in [-2, 2]."""
    return Spectral(-2.05, 2.0, kind="indefinite")


def asymmetric() -> Asymmetric:
    return Asymmetric()


def rotation() -> Orthogonal:
    return Orthogonal()


def matrix(rows: int | str = "d", cols: int | str = "d", low: float = -1.0, high: float = 1.0) -> Matrix:
    return Matrix(rows, cols, low, high)


def fixed(value: Any) -> Fixed:
    return Fixed(torch.as_tensor(value))  # host: a given value


class CaseDescription(Description):
    """A description built from named fields, which also knows the domain of its cases."""

    def __init__(self, n: tuple[int, int], d: tuple[int, int], fields: Mapping[str, Field]) -> None:
        for name, f in fields.items():
            if not isinstance(f, Field):
                raise TypeError(f"field {name} must be a verify.draw field (tokens(), psd(), uniform(...), fixed(...)), "
                                f"got {type(f).__name__}")
        if not 1 <= n[0] <= n[1] or not 1 <= d[0] <= d[1]:
            raise ValueError(f"n and d must be (low, high) with 1 <= low <= high, got n={n!r}, d={d!r}")
        self.n, self.d, self.fields = n, d, dict(fields)

        def build(src: Source) -> Case:
            n_, d_ = src.size(*self.n), src.size(*self.d)
            drawn: dict[str, Tensor] = {}
            for name, f in self.fields.items():
                drawn[name] = f.draw(src, n_, d_, drawn)
            return Case(**drawn)

        build.__name__ = "cases"
        super().__init__(build)

    def holds(self, batch: Case) -> Tensor:
        """(B,) bool: every field of every case lies in its domain, and Y's n and d in their ranges."""
        ok = torch.ones(batch.size, dtype=torch.bool, device=batch.device)
        if "Y" in batch and batch.tensor("Y").ndim == 3:
            n, d = batch.tensor("Y").shape[1:]
            ok &= self.n[0] <= n <= self.n[1] and self.d[0] <= d <= self.d[1]
        values = {k: batch.tensor(k) for k in self.fields}
        for name, f in self.fields.items():
            ok &= f.holds(values[name], values)
        return ok

    def project(self, batch: Case) -> Case:
        """Every field mapped onto its domain, in the order they are drawn."""
        values: dict[str, Tensor] = {}
        for name, f in self.fields.items():
            values[name] = f.project(batch.tensor(name), values)
        return Case(**{**batch, **values})

    def movable(self) -> list[str]:
        """The fields a search may move (a fixed one is the researcher's, not the search's)."""
        return [k for k, f in self.fields.items() if not isinstance(f, Fixed)]

    def __repr__(self) -> str:
        return f"cases(n={self.n}, d={self.d}, {', '.join(self.fields)})"


def cases(n: tuple[int, int] = (1, 6), d: tuple[int, int] = (1, 4), **fields: Field) -> CaseDescription:
    """Cases with the named fields (Y = tokens() when none is given), n and d drawn first."""
    return CaseDescription(n, d, fields or {"Y": tokens()})


def given(**values: Any) -> CaseDescription:
    """The one case with these values (tensors or nested lists): for replaying a counterexample."""
    tensors = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in values.items()}  # host: a given case
    first = next(iter(tensors.values()))
    n = first.shape[-2] if first.ndim >= 2 else 1
    d = first.shape[-1] if first.ndim >= 1 else 1
    return CaseDescription((n, n), (d, d), {k: Fixed(v) for k, v in tensors.items()})


__all__ = ["REGIMES", "CaseDescription", "Field", "asymmetric", "cases", "equal_norm_tokens", "fixed", "given",
           "indefinite", "log_uniform", "matrix", "psd", "rotation", "spectrum", "symmetric", "tokens", "uniform"]
