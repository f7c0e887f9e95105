"""The real text the audit runs on: verify/data/sentences.txt, one sentence a line ('#' lines are
its header: source and license)."""

from __future__ import annotations

from pathlib import Path

SENTENCES = Path(__file__).resolve().parents[2] / "data" / "sentences.txt"


def load_sentences(limit: int | None = None, path: Path = SENTENCES) -> list[str]:
    """The first `limit` sentences of the file (all when None)."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"sentences must be a positive number of sentences, got {limit!r}")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    texts = [line for line in lines if line and not line.startswith("#")]
    return texts if limit is None else texts[:limit]
