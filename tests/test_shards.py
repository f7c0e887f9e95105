"""A run split into shards and merged gives the verdicts, case counts and worst cases of one run
with the same seed and total budget."""

import json

import pytest

from verify import cli
from verify.output.record import comparable, to_json
from verify.running import runner
from verify.running.shards import merge, parse_shard, run_shard

IDS = ["FF-DESCENT", "LAYER-FULL-SUM-DESCENT", "NORM-SCALE-INVARIANCE", "LAYER-ALT-FIXED-POINT"]
OPTIONS = dict(max_examples=20, sweep_cases=20_000, seed=7, workers=1)


@pytest.fixture(scope="module")
def single():
    return to_json(runner.run(IDS, **OPTIONS))


@pytest.mark.parametrize("count", [2, 3])
def test_shards_merged_equal_one_run(single, count):
    records = [run_shard((k, count), IDS, **OPTIONS) for k in range(count)]
    merged = to_json(merge(list(reversed(records))))
    assert comparable(merged) == comparable(single)
    refuted = next(c for c in merged["claims"] if c["id"] == "LAYER-FULL-SUM-DESCENT")
    assert refuted["verdict"] == "refuted" and refuted["engines"] == {"sweep": refuted["cases"]}
    holds = next(c for c in merged["claims"] if c["id"] == "FF-DESCENT")
    assert holds["engines"]["sweep"] > 19_000 and holds["engines"]["hypothesis"] == 20


def test_every_shard_draws_its_own_batches():
    """Each sweep's batches fall to exactly one shard (the shares partition the unsplit sweep)."""
    from verify.engines.sweep import shard_batches

    for cases, batch, count in [(20_000, 4096, 2), (20_000, 1024, 3), (3, 4096, 4), (10**6, 4096, 16)]:
        shares = [list(shard_batches(cases, batch, (k, count))) for k in range(count)]
        assert sum(shares, []) == list(range(-(-cases // batch)))


def test_merge_names_what_is_wrong():
    records = [run_shard((k, 2), ["FF-DESCENT"], **{**OPTIONS, "sweep_cases": 4096}) for k in range(2)]
    with pytest.raises(ValueError, match="missing \\[1\\]"):
        merge(records[:1])
    with pytest.raises(ValueError, match="given twice"):
        merge([records[0], records[0], records[1]])
    other = run_shard((1, 2), ["FF-DESCENT"], **{**OPTIONS, "sweep_cases": 4096, "seed": 8})
    with pytest.raises(ValueError, match="seed differ"):
        merge([records[0], other])
    with pytest.raises(ValueError, match="shard record"):
        merge([{"meta": {}}])
    for bad in ("2/2", "1", "a/b", "-1/3"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


def test_cli_shards_and_merge(tmp_path, capsys):
    for k in range(2):
        assert cli.main(["run", "--claims", "ff-descent", "--shard", f"{k}/2", "--out", str(tmp_path),
                         "--examples", "10", "--workers", "1", "--dtype", "float64"]) == 0
    files = sorted(str(p) for p in tmp_path.glob("shard-*-of-2.json"))
    assert len(files) == 2
    assert cli.main(["merge", *files, "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "latest.json").read_text())
    assert [c["id"] for c in report["claims"]] == ["FF-DESCENT"] and report["claims"][0]["verdict"] == "holds"
    assert cli.main(["merge", files[0], "--out", str(tmp_path)]) == 2
    assert "missing [1]" in capsys.readouterr().err
