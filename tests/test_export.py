"""ONNX export: graph parity with PyTorch, precision budgets, manifest, golden fixtures, --check.

One session-scoped export of the ``micro`` generator (weights perturbed away from the adaLN-Zero
init, which would make every output trivially zero) and a small classifier is shared by the tests.
"""

import json
import shutil

import numpy as np
import onnx
import pytest
import torch

from cats.breeds import BREEDS, CLASSIFIER_LABELS, NULL_ID
from cats.export import export_pipeline
from cats.export.cli import main as export_main
from cats.export.exporter import write_variants
from cats.export.golden import replay_golden
from cats.export.graphs import GeneratorStep
from cats.export.parity import GeneratorReference, case_weights, onnx_step, session, step_feed, torch_step
from cats.flow import SIGMA_MIN
from cats.onnx.manifest import decode_array, encode_array, read_golden, read_manifest, sha256, verify_files
from cats.schedule import flow_sigmas


def make_test_pipeline():
    """micro CatsPipeline with non-trivial random weights and a 32 px RegNet classifier (deterministic)."""
    from cats.models.classifier import CatClassifier
    from cats.pipeline import CatsPipeline

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        classifier = CatClassifier(image_size=32, temperature=1.3, unsure_threshold=0.3).eval()
        pipe = CatsPipeline.from_preset("micro", classifier=classifier, shift=1.5)
        with torch.no_grad():
            for p in pipe.transformer.parameters():  # leave the zero init, so outputs depend on every weight
                p.add_(0.02 * torch.randn_like(p))
    return pipe


def shared_export(request, tmp_path_factory):
    """(pipe, export dir): the test pipeline exported ONCE per test run, even across xdist workers.

    pytest-xdist's recipe: workers of one run share the parent of their base temp directory, and a
    file lock makes the first worker export while the others wait; manifest.json is written last,
    so its presence means the export is complete. Without xdist the export goes in this run's temp.
    Every process rebuilds the same pipeline (fixed seeds), so the export matches its weights.
    """
    from filelock import FileLock  # installed with huggingface_hub

    pipe = make_test_pipeline()
    worker = getattr(request.config, "workerinput", {}).get("workerid")
    root = tmp_path_factory.getbasetemp() if worker is None else tmp_path_factory.getbasetemp().parent
    out = root / "micro-test-export"
    with FileLock(str(out) + ".lock"):
        if not (out / "manifest.json").is_file():
            export_pipeline(pipe, out, ("fp32", "fp16", "int8"), name="micro-test")
    return pipe, out


@pytest.fixture(scope="module")
def exported(request, tmp_path_factory):
    pipe, out = shared_export(request, tmp_path_factory)
    return pipe, out, read_manifest(out)


def _step(pipe):
    return GeneratorStep(pipe.transformer).eval()


def test_fp32_step_matches_pytorch_per_step_and_in_any_batch(exported):
    pipe, out, manifest = exported
    sess = session(str(out / "generator.fp32.onnx"))
    sigmas = flow_sigmas(8, 1.5)
    rng = np.random.default_rng(0)
    for batch in (1, 3):
        w = case_weights()[:batch]
        x = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
        for i in (0, 3, 7):
            feed = step_feed(x, sigmas[i], sigmas[i + 1], w, 4.0)
            got, ref = onnx_step(sess, feed), torch_step(_step(pipe), feed)
            assert got[0].shape == (batch, 3, 32, 32)
            for g, r in zip(got, ref):
                assert np.abs(g - r).max() < 1e-4
            assert np.abs(ref[0] - x).max() > 1e-2  # the step moved: the comparison is not vacuous


def test_guidance_lives_in_the_graph(exported):
    """The graph's step at guidance g equals cond/null velocities combined by the CFG formula once."""
    pipe, out, _ = exported
    sess = session(str(out / "generator.fp32.onnx"))
    x = np.random.default_rng(1).standard_normal((1, 3, 32, 32)).astype(np.float32)
    w = case_weights()[:1]
    null = np.zeros_like(w)
    null[0, NULL_ID] = 1.0
    v = {}
    for name, weights, g in (("cond", w, 1.0), ("null", null, 1.0), ("guided", w, 3.0)):
        v[name] = x - onnx_step(sess, step_feed(x, 0.6, 0.6 - 1.0, weights, g))[0]
    expected = v["null"] + 3.0 * (v["cond"] - v["null"])
    assert np.abs(v["guided"] - expected).max() < 1e-4
    assert np.abs(v["cond"] - v["null"]).max() > 1e-3  # the breed matters


def test_classifier_logits_match_pytorch(exported):
    pipe, out, manifest = exported
    sess = session(str(out / "classifier.fp32.onnx"))
    x = np.random.default_rng(2).standard_normal((3, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        ref = pipe.classifier(torch.from_numpy(x)).numpy()
    got = sess.run(["logits"], {"image": x})[0]
    assert got.shape == (3, 13)
    assert np.abs(got - ref).max() < 1e-4
    assert np.abs(ref[0] - ref[1]).max() > 1e-3  # logits depend on the input


def test_precision_variants_are_within_their_recorded_budgets(exported):
    pipe, out, manifest = exported
    gen = manifest["generator"]
    assert set(gen["variants"]) == {"fp32", "fp16", "int8"}
    reference = GeneratorReference(_step(pipe), gen["defaults"]["guidance_scale"], gen["scheduler"]["shift"])
    for precision, variant in gen["variants"].items():
        errors = reference.errors(session(str(out / variant["file"])))
        for key, limit in variant["budget"].items():
            assert errors[key] <= limit, (precision, key)
            assert variant["error"][key] <= limit
        assert errors["image20_rel_rms"] == pytest.approx(variant["error"]["image20_rel_rms"], rel=1e-3, abs=1e-7)
    assert gen["variants"]["fp16"]["budget"]["velocity_rel_rms"] <= 0.01
    assert gen["variants"]["int8"]["budget"]["velocity_rel_rms"] <= 0.02
    sizes = {p: (out / v["file"]).stat().st_size for p, v in gen["variants"].items()}
    assert sizes["fp16"] < 0.7 * sizes["fp32"] and sizes["int8"] < sizes["fp16"]
    # the int8 file holds exactly the 8-bit layers its manifest entry lists
    scheme = gen["variants"]["int8"]["quantization"]
    int8_model = onnx.load(str(out / gen["variants"]["int8"]["file"]))
    assert sum(n.op_type == "MatMulInteger" for n in int8_model.graph.node) == len(scheme["int8_layers"]) > 0
    # fp16 and int8 keep float32 inputs and outputs, so clients feed every variant alike
    for variant in gen["variants"].values():
        model = onnx.load(str(out / variant["file"]))
        assert {i.type.tensor_type.elem_type for i in list(model.graph.input) + list(model.graph.output)} == {1}


def test_graph_files_are_self_contained_opset18_and_valid(exported):
    _, out, manifest = exported
    for graph in ("generator", "classifier"):
        for variant in manifest[graph]["variants"].values():
            model = onnx.load(str(out / variant["file"]))
            onnx.checker.check_model(model)
            assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 18
            assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    assert sorted(p.name for p in out.iterdir() if p.suffix != ".onnx") == ["golden.json", "manifest.json"]


def test_manifest_contents(exported):
    from diffusers import FlowMatchEulerDiscreteScheduler

    pipe, out, _ = exported
    manifest = read_manifest(out)
    assert manifest["breeds"] == list(BREEDS) and manifest["null_id"] == NULL_ID
    assert manifest["weights"]["name"] == "micro-test" and manifest["weights"]["preset"] == "micro"
    gen = manifest["generator"]
    assert gen["image_size"] == 32 and gen["prediction_type"] == pipe.transformer.config.prediction_type
    assert gen["sigma_min"] == SIGMA_MIN
    assert gen["defaults"] == {"num_inference_steps": 20, "guidance_scale": 3.0}
    scheduler = FlowMatchEulerDiscreteScheduler(shift=1.5)
    for steps, sigmas in gen["scheduler"]["sigmas"].items():
        scheduler.set_timesteps(int(steps))
        assert np.array_equal(np.asarray(sigmas, np.float32), scheduler.sigmas.numpy())
    assert gen["scheduler"]["shift"] == 1.5 and set(gen["scheduler"]["sigmas"]) == {"4", "8", "20", "50"}
    clf = manifest["classifier"]
    cfg = pipe.classifier.config
    assert clf["labels"] == list(CLASSIFIER_LABELS) and clf["image_size"] == 32
    assert clf["mean"] == pytest.approx(list(cfg.mean)) and clf["std"] == pytest.approx(list(cfg.std))
    assert clf["temperature"] == 1.3 and clf["unsure_threshold"] == 0.3
    assert verify_files(out, manifest) == []
    for graph, names in (("generator", (["sample", "sigma", "sigma_next", "class_weights", "guidance_scale"],
                                        ["next_sample", "pred_x0"])), ("classifier", (["image"], ["logits", "features"]))):
        entry = manifest[graph]
        assert [i["name"] for i in entry["inputs"]] == names[0] and [o["name"] for o in entry["outputs"]] == names[1]
        for variant in entry["variants"].values():
            path = out / variant["file"]
            assert variant["sha256"] == sha256(path) and variant["bytes"] == path.stat().st_size
            model = onnx.load(str(path))
            for spec, value in zip(entry["inputs"] + entry["outputs"], list(model.graph.input) + list(model.graph.output)):
                dims = [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
                assert spec["name"] == value.name and spec["shape"] == dims and spec["dtype"] == "float32"
    assert gen["inputs"][0]["shape"] == ["batch", 3, 32, 32] and gen["inputs"][4]["shape"] == [1]


def test_golden_fixtures_replay_and_catch_a_change(exported):
    pipe, out, manifest = exported
    golden = read_golden(out, manifest)
    sess, clf = session(str(out / "generator.fp32.onnx")), session(str(out / "classifier.fp32.onnx"))
    assert replay_golden(golden, sess, clf) == []
    assert [c["name"] for c in golden["cases"]] == ["Siamese", "Bombay", "Persian+Bengal"]
    assert decode_array(golden["noise"]).shape == (1, 3, 32, 32) and len(golden["sigmas"]) == golden["steps"] + 1
    # the final image is what PyTorch's own pipeline makes from the same noise
    case = golden["cases"][2]
    with torch.no_grad():
        ref = pipe({"Persian": 0.5, "Bengal": 0.5}, num_inference_steps=golden["steps"], output_type="np",
                   latents=decode_array(golden["noise"]), progress=False).images  # (1, S, S, 3) in [0, 1]
    final = np.clip(decode_array(case["final"]), -1, 1).transpose(0, 2, 3, 1)
    assert np.abs((final + 1) / 2 - ref).max() < 1e-3
    tampered = json.loads(json.dumps(golden))
    arr = decode_array(tampered["cases"][0]["final"]).copy()
    arr[0, 0, 0, 0] += 0.01
    tampered["cases"][0]["final"] = encode_array(arr)
    assert len(replay_golden(tampered, sess)) == 1


def test_check_cli_passes_then_fails_after_one_byte_changes(exported, tmp_path, capsys):
    pipe, out, _ = exported
    model_dir = tmp_path / "pipe"
    pipe.save_pretrained(model_dir)
    assert export_main(["--model", str(model_dir), "--out", str(out), "--check"]) == 0
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    graph = broken / "generator.fp16.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0x01
    graph.write_bytes(bytes(data))
    assert export_main(["--model", str(model_dir), "--out", str(broken), "--check"]) == 1
    assert "generator fp16" in capsys.readouterr().err


def test_variant_over_budget_is_not_written_and_says_why(exported, tmp_path, capsys):
    pipe, out, manifest = exported
    entry = {"variants": {}, "rejected_variants": {}}
    stale = tmp_path / "generator.fp16.onnx"
    stale.write_bytes(b"old export")
    reference = GeneratorReference(_step(pipe), 3.0, 1.5, image_steps=4)
    fp32 = onnx.load(str(out / "generator.fp32.onnx"))
    budgets = {"fp32": {"step_max_abs": 1e-4}, "fp16": {"velocity_rel_rms": 1e-9}}
    write_variants(entry, fp32, "generator", ("fp32", "fp16"), reference.errors, budgets, tmp_path)
    assert set(entry["variants"]) == {"fp32"} and not stale.exists()
    assert "velocity_rel_rms" in entry["rejected_variants"]["fp16"]["reason"]
    assert "generator fp16: NOT written, over budget: velocity_rel_rms" in capsys.readouterr().out
    with pytest.raises(RuntimeError, match="fp32 graph does not match"):
        write_variants(entry, fp32, "generator", ("fp32",), reference.errors, {"fp32": {"step_max_abs": 0.0}},
                       tmp_path)


def test_cli_rejects_unknown_precision(capsys):
    with pytest.raises(SystemExit):
        export_main(["--model", "x", "--out", "y", "--precision", "fp32,bf16"])
    assert "bf16" in capsys.readouterr().err


def test_step_graph_of_a_model_with_long_skips_and_seam_conv_matches_pytorch(tmp_path):
    from cats.export.graphs import export_generator
    from cats.models.dit import CatDiT, get_preset

    torch.manual_seed(0)
    model = CatDiT(**{**get_preset("micro"), "long_skip": True, "conv_out": True}).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    export_generator(model, tmp_path / "g.onnx")
    sess = session(str(tmp_path / "g.onnx"))
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype(np.float32)
    feed = step_feed(x, 0.7, 0.6, case_weights()[:2], 3.0)
    for g, r in zip(onnx_step(sess, feed), torch_step(GeneratorStep(model).eval(), feed)):
        assert np.abs(g - r).max() < 1e-4


def test_clients_are_served_fp16_by_default_when_it_passed(exported):
    _, out, manifest = exported
    for graph in ("generator", "classifier"):
        entry = manifest[graph]
        assert "fp16" in entry["variants"] and entry["default_variant"] == "fp16", graph
        assert entry["variants"]["fp16"]["bytes"] < 0.7 * entry["variants"]["fp32"]["bytes"]  # weights in half
    from cats.export.exporter import served_variant

    assert served_variant({"variants": {"fp32": {}}}) == "fp32"  # fp16 over its budget: the reference is served
