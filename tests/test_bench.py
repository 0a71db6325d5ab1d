"""The benchmark table runs end to end at its smallest size (speed goals are judged by people, not here)."""

from cats.benchmarks import report


def test_bench_quick_runs_every_part_and_prints_one_table(tmp_path, capsys):
    out = tmp_path / "bench.md"
    results = report.main(["--quick", "--no-browser", "--out", str(out)])
    for part in ("train", "onnx", "gradio", "synthcats"):
        assert results[part], part
    assert results["train"]["images_per_s"] and all(v > 0 for v in results["train"]["images_per_s"].values())
    assert all(row["pytorch_ms"] > 0 for row in results["onnx"]["steps"].values())
    assert results["gradio"]["first_request_s"] > 0
    md = out.read_text()
    assert md.count("\n|") >= 8 and "Gradio start-up" in md and "ONNX fp32" in md
    assert md in capsys.readouterr().out  # the printed table is the written one
    assert out.with_suffix(".json").is_file()
