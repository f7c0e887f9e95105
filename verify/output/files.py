"""Report files: written through a temporary file and a rename, so never half a file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from verify.output.markdown import render_markdown


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is for everyone to read
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write(report: dict[str, Any], out: Path, stem: str = "latest") -> tuple[Path, Path]:
    """`{stem}.json` and `{stem}.md` under `out`, each written atomically."""
    json_path, md_path = out / f"{stem}.json", out / f"{stem}.md"
    write_atomic(json_path, json.dumps(report, indent=1))
    write_atomic(md_path, render_markdown(report))
    return json_path, md_path
