"""The command line: list, run (report files, exit code), replay."""

import json
import subprocess
import sys

import pytest


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "verify", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_list_names_every_claim():
    out = cli("list")
    assert out.returncode == 0
    for claim_id in ("ATT-DESCENT", "FF-TIED-MLP", "NORM-TORCH-EQUIV"):
        assert claim_id in out.stdout


def test_run_writes_both_reports(tmp_path):
    out = cli("run", "--claims", "FF-DESCENT", "--claims", "NORM-SCALE-*", "--out", str(tmp_path), "--examples", "30")
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads((tmp_path / "latest.json").read_text())
    assert report["meta"]["complete"] is True
    ids = [c["id"] for c in report["claims"]]
    assert ids == ["FF-DESCENT", "NORM-SCALE-INVARIANCE"]
    ff = report["claims"][0]
    assert ff["verdict"] == ff["expected"] == "holds"
    lmin = next(a for a in ff["assumptions"] if a["name"] == "lmin(M) >= -1")
    assert lmin["needed"] is True and lmin["counterexample"] is not None
    assert "FF-DESCENT" in (tmp_path / "latest.md").read_text()


def test_replay_prints_both_sides_and_fails_on_a_counterexample():
    case = '{"Y": {"tensor": [[0.0], [0.25]]}, "W": {"tensor": [[0.0625]]}, "rho": "neg_exp", "a": 2.25}'
    out = cli("replay", "ATT-DESCENT", case)
    assert out.returncode == 1
    assert "lhs = -3.99392716" in out.stdout and "rhs = -3.99609756" in out.stdout and "FAILS" in out.stdout


@pytest.mark.parametrize(
    ("args", "words"), [(["replay", "NOPE", "{}"], "unknown claim"), (["replay", "ATT-DESCENT", "not json"], "CASE must be")]
)
def test_replay_bad_input(args, words):
    out = cli(*args)
    assert out.returncode == 2 and words in out.stderr


NO_CUDA = pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="CUDA is available here")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["run", "--claims", "NOPE-*"], "match no claim"),
        (["run", "--examples", "0"], "--examples must be at least 1"),
        (["run", "--workers", "0"], "--workers must be at least 1"),
        (["run", "--dtype", "float17"], "--dtype must be a floating dtype"),
        (["run", "--shard", "3/2"], "--shard must be K/N"),
        (["run", "--profile", "nope"], "invalid choice: 'nope'"),
        (["run", "--examples", "x"], "invalid int value"),
        (["replay", "ATT-DESCENT", '{"Y": {"tensor": [[0.0], [1.0]]}, "rho": "neg_exp", "a": 1.0}'], "lacks the field 'W'"),
        (["replay", "ATT-DESCENT", '{"Y": {"tensor": [[NaN], [1.0]]}, "W": {"tensor": [[1.0]]}, "rho": "neg_exp", "a": 1.0}'],
         "CASE field Y contains NaN"),
        (["merge", "no-such-file.json"], "not a readable JSON file"),
        (["report", "no-such-file.json"], "JSON must be a readable report file"),
        pytest.param(["run", "--device", "cuda"], "CUDA is not available", marks=NO_CUDA),
        pytest.param(["bench", "--device", "cuda"], "CUDA is not available", marks=NO_CUDA),
    ],
)
def test_bad_arguments_get_one_line_and_exit_code_2(args, words):
    out = cli(*args)
    assert out.returncode == 2, out.stdout + out.stderr
    assert words in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_claim_patterns_are_case_insensitive(tmp_path):
    out = cli("run", "--claims", "ff-desc*", "--out", str(tmp_path), "--examples", "10", "--no-ablate", "--dtype", "float64")
    assert out.returncode == 0, out.stderr
    assert [c["id"] for c in json.loads((tmp_path / "latest.json").read_text())["claims"]] == ["FF-DESCENT"]
    assert f"writing to {tmp_path}" in out.stderr


def test_replay_says_which_assumptions_the_case_breaks():
    case = '{"Y": {"tensor": [[0.0], [1.0]]}, "W": {"tensor": [[-1.0]]}, "rho": "neg_exp", "a": 1.0}'
    out = cli("replay", "ATT-DESCENT", case)
    assert out.returncode == 1
    assert "breaks: sym(W) PSD" in out.stdout and "ablation case" in out.stdout
