"""The runner and the report: ablation matrix logic, integrity, determinism, exit codes."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from verify import cli, run
from verify.draw import Source, description
from verify.model.case import Case
from verify.model.claim import Assumption, Claim
from verify.model.tolerance import inequality_slacks
from verify.output.markdown import render_markdown
from verify.output.record import comparable
from verify.running import runner as runner_module


@description
def _cases(src: Source, sign: str = "positive", shift: str = "small") -> Case:
    x = src.uniform(0.1, 5.0)
    return Case(x=x if sign == "positive" else -x, s=src.uniform(0.0, 0.5) if shift == "small" else src.uniform(2.0, 3.0))


def _check(batch):
    """x >= 0: needs x > 0, not a small s."""
    x = batch.tensor("x")
    return inequality_slacks(torch.zeros_like(x), x, dtype=torch.float64, scale=1.0)


POSITIVE = Assumption("x > 0", lambda c: c.tensor("x") > 0, {"sign": "negative"})
IRRELEVANT = Assumption("s small", lambda c: c.tensor("s") <= 0.5, {"shift": "large"})
TOY = Claim(id="TOY-POSITIVE", family="TOY", statement="x >= 0", source="test", assumptions=(POSITIVE, IRRELEVANT),
            cases=_cases, check=_check)
WRONG = Claim(id="TOY-WRONG", family="TOY", statement="x >= 0 (spec says refuted)", source="test",
              assumptions=(POSITIVE,), cases=_cases, check=_check, expected="refuted")


@pytest.fixture
def toy_registry(monkeypatch):
    monkeypatch.setattr(runner_module, "registry", lambda: {TOY.id: TOY, WRONG.id: WRONG})


def test_matrix_needed_and_not_needed(toy_registry):
    result = run(ids="TOY-POSITIVE", workers=1, max_examples=50)
    (claim_run,) = result.claims
    status = {a.assumption: a for a in claim_run.ablations}
    assert status["x > 0"].status == "needed" and status["x > 0"].verdict.counterexample is not None
    assert status["s small"].status == "not needed"
    assert status["s small"].verdict.examples >= 50
    report = result.to_json()
    names = {a["name"]: a for a in report["claims"][0]["assumptions"]}
    assert names["x > 0"]["needed"] is True and names["s small"]["needed"] is False
    markdown = render_markdown(report)
    assert "**needed**" in markdown and "not needed (" in markdown and "## TOY" in markdown


def test_untestable_assumption_is_reported_with_its_reason():
    result = run(ids="NORM-RMS-PROJECTION", workers=1, max_examples=10)
    (ablation,) = result.claims[0].ablations
    assert ablation.status == "not tested" and "ValueError" in ablation.reason
    assert f"y != 0: not tested ({ablation.reason})" in result.to_markdown()


def test_exit_code_on_verdict_mismatch(toy_registry, tmp_path, capsys):
    code = cli.main(["run", "--claims", "TOY-WRONG", "--out", str(tmp_path), "--examples", "20", "--workers", "1"])
    assert code == 1
    assert "differs from the spec for: TOY-WRONG" in capsys.readouterr().out
    report = json.loads((tmp_path / "latest.json").read_text())
    assert report["claims"][0]["matches"] is False
    assert "Observed verdict differs from the spec for: TOY-WRONG" in (tmp_path / "latest.md").read_text()
    assert cli.main(["run", "--claims", "TOY-POSITIVE", "--out", str(tmp_path), "--examples", "20", "--workers", "1"]) == 0


def test_same_seed_same_report():
    ids = ["FF-DESCENT", "ATT-DESCENT"]
    one = run(ids=ids, max_examples=40, workers=1, seed=11).to_json()
    two = run(ids=ids, max_examples=40, workers=2, seed=11).to_json()
    assert comparable(one) == comparable(two)
    ff = next(c for c in one["claims"] if c["id"] == "FF-DESCENT")
    lmin = next(a for a in ff["assumptions"] if a["name"] == "lmin(M) >= -1")
    assert lmin["counterexample"] is not None


def test_interrupted_run_leaves_the_last_complete_report(tmp_path):
    old_json, old_md = '{"meta": {"complete": true}, "claims": []}', "# the previous report\n"
    (tmp_path / "latest.json").write_text(old_json)
    (tmp_path / "latest.md").write_text(old_md)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "verify", "run", "--out", str(tmp_path), "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 300
        # both partial files: a kill between the two writes would leave partial.md one claim behind, or absent
        while not ((tmp_path / "partial.json").exists() and (tmp_path / "partial.md").exists()):
            assert proc.poll() is None, "the run ended before it wrote a partial report"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert (tmp_path / "latest.json").read_text() == old_json
    assert (tmp_path / "latest.md").read_text() == old_md
    partial = json.loads((tmp_path / "partial.json").read_text())
    assert partial["meta"]["complete"] is False and len(partial["claims"]) >= 1
    assert "Incomplete run" in (tmp_path / "partial.md").read_text()
    # latest.* is only written when a run completes, so no temporary of it can exist; a SIGKILL may land
    # inside a partial.* write and leave that one temporary behind (its rename never happened)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".latest.")]
    assert len([p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]) <= 1


def test_report_rerenders_markdown_from_json(tmp_path):
    result = run(ids="FF-DESCENT", max_examples=20, workers=1)
    (tmp_path / "r.json").write_text(json.dumps(result.to_json()))
    assert cli.main(["report", str(tmp_path / "r.json")]) == 0
    assert (tmp_path / "r.md").read_text() == result.to_markdown()


def test_counterexamples_are_stored_in_full_precision():
    result = run(ids="FF-DESCENT", max_examples=50, workers=1)
    ablation = next(a for a in result.claims[0].ablations if a.status == "needed")
    stored = ablation.verdict.counterexample.to_json()
    again = Case.from_json(json.dumps(stored))
    for key, value in ablation.verdict.counterexample.items():
        if hasattr(value, "numpy"):
            assert np.array_equal(value.numpy(), again[key].numpy())


def test_markdown_renders_stacked_head_weights():
    """A counterexample with per-head weights (h, d, k) renders as a stack of matrices."""
    from verify.output.markdown import _matrix_text

    assert _matrix_text({"tensor": [[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]]}) == "[[1 2; 3 4] | [5 6; 7 8]]"
    assert _matrix_text({"tensor": [[0.1, 0.25]]}) == "[0.1 0.25]"
    assert _matrix_text({"tensor": [1.5, -2.0]}) == "[1.5 -2]"
