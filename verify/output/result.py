"""`verify.run(...)`'s result: the runner's `Run` with its JSON and markdown forms.

The runner (verify.running) produces the data; this layer, below it, formats it. `RunResult`
adds the formats to the data, so `verify.run(...).to_json()` and `.to_markdown()` keep working
while no module of the running layer imports the output layer.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from verify.output.markdown import render_markdown
from verify.output.record import to_json
from verify.running import runner
from verify.running.runner import Run


@dataclasses.dataclass
class RunResult(Run):
    """Everything one run found: `.to_json()` (the machine contract) and `.to_markdown()`."""

    @staticmethod
    def of(run: Run) -> RunResult:
        return RunResult(**{f.name: getattr(run, f.name) for f in dataclasses.fields(Run)})

    def to_json(self) -> dict[str, Any]:
        return to_json(self)

    def to_markdown(self) -> str:
        return render_markdown(self.to_json())


@functools.wraps(runner.run)
def run(*args: Any, **kwargs: Any) -> RunResult:
    """Search every selected claim (verify.running.runner.run, same arguments) and return the result with its formats."""
    return RunResult.of(runner.run(*args, **kwargs))
