"""train_modal.py (infrastructure) and cats.modal_jobs (the job bodies), with no Modal account.

The Modal side is checked by inspecting the objects modal builds at import (functions, GPU,
retries, Volumes, image layers); the job bodies run for real on SynthCats with temporary
directories standing in for the Volumes, including a preemption in the middle of training.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import train_modal  # modal is in requirements.txt: a failing import must fail, not skip
from cats import modal_jobs as jobs
from cats.paths import ROOT as REPO_ROOT

COMMON_ARGS = ("--num-per-class", "2", "--eval-every", "0", "--threads", "1")  # flags both tasks take
MICRO_ARGS = COMMON_ARGS + ("--sample-steps", "1", "--keep", "100")  # generator only: 1-step final grid


def _micro_spec(name: str, steps: int, **overrides) -> jobs.JobSpec:
    values = dict(run_name=name, model="generator", data="synthcats", preset="micro", steps=steps, batch_size=4,
                  checkpoint_every=5, train_args=MICRO_ARGS, evaluate=False, export=False)
    return jobs.JobSpec(**{**values, **overrides})


# ---------------------------------------------------------------- the Modal app, inspected


def test_import_needs_no_credentials(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODAL_")}
    env.update(HOME=str(tmp_path), MODAL_CONFIG_PATH=str(tmp_path / "none.toml"))
    code = ("import sys, train_modal as t; "
            "print(type(t.app).__name__, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    # the local side of `modal run` must not need torch: a laptop with only modal installed can launch
    assert out.stdout.split()[-2:] == ["App", "False"]


def test_app_functions_gpu_retries_and_volumes():
    assert train_modal.train.app is train_modal.app and train_modal.prepare_data.app is train_modal.app
    assert train_modal.main.app is train_modal.app  # the local entrypoint

    train = train_modal.train.info()
    assert train.gpus == [(train_modal.DEFAULT_GPU, 1)]
    assert train.max_retries >= 1  # preemption and crashes are retried ...
    assert train.timeout == 24 * 60 * 60  # ... each attempt with Modal's maximum timeout
    assert {p: v.name for p, v in train.volumes.items()} == {
        train_modal.DATA_DIR: train_modal.DATA_VOLUME, train_modal.RUNS_DIR: train_modal.RUNS_VOLUME}

    # modal-examples' long training: every attempt (a retry after preemption too) in a fresh container
    assert train.single_use_containers and train_modal.train_on("H100", 2).info().single_use_containers

    data = train_modal.prepare_data.info()
    assert data.gpus == [] and data.timeout < train.timeout  # the download and caching run on CPU
    assert {p: v.name for p, v in data.volumes.items()} == {train_modal.DATA_DIR: train_modal.DATA_VOLUME}

    # the GPU flag reaches Modal: several GPUs of a type in one container
    assert train_modal.train_on("H100", 2).info().gpus == [("H100", 2)]
    assert train_modal.train_on("L40S", 1).info().gpus == [("L40S", 1)]
    with pytest.raises(ValueError, match="A10G, L40S, A100, H100"):
        train_modal.train_on("V100", 1)


def _image_layers(image) -> tuple[list, list]:
    """(Dockerfile specs, mounts) of a modal.Image, walking its layers without building anything."""
    from modal._utils.async_utils import synchronizer

    specs, mounts, seen = [], [], set()
    stack = [synchronizer._translate_in(image)]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if type(obj).__name__ == "_Mount":
            mounts.append(obj)
        elif type(obj).__name__ == "_Image":
            build = inspect.getclosurevars(obj._load).nonlocals.get("dockerfile_function")
            if build is not None:
                specs.append(build("2024.10"))
        stack.extend(obj._deps() if obj._deps else [])
    return specs, mounts


def test_image_installs_the_requirements_and_adds_the_package():
    specs, mounts = _image_layers(train_modal.image)
    commands = [line for spec in specs for line in spec.commands]
    context = {name: Path(path) for spec in specs for name, path in spec.context_files.items()}
    assert any(line.startswith("FROM python:3.11") for line in commands)
    assert "RUN python -m pip install -r /.requirements.txt" in commands
    assert context["/.requirements.txt"].resolve() == (REPO_ROOT / "requirements.txt").resolve()

    entries = [entry for mount in mounts for entry in mount._entries]
    packages = [e.module_name for e in entries if type(e).__name__ == "_MountedPythonModule"]
    files = {str(e.remote_path): Path(e.local_file) for e in entries if type(e).__name__ == "_MountFile"}
    assert packages == ["cats"]  # the whole package, no per-file list
    assert files == {"/root/export.py": REPO_ROOT / "export.py"}  # beside /root/cats, where the job finds it
    assert jobs.export_command(Path("p"), Path("o"))[1] == str(REPO_ROOT / "export.py")


def test_entrypoint_flags():
    from modal.cli.run import _get_click_command_for_local_entrypoint

    command = _get_click_command_for_local_entrypoint(train_modal.app, train_modal.main)
    ctx = command.make_context("train_modal.py", [
        "--model", "both", "--data", "synthcats", "--preset", "tiny", "--classifier-preset", "tiny",
        "--steps", "1000", "--batch-size", "32", "--gpu", "H100", "--gpus", "2", "--push-to-hub", "me/cats",
        "--train-args", "--lr 1e-4", "--label-column", "breed"])
    params = ctx.params
    assert (params["model"], params["data"], params["gpu"], params["gpus"], params["steps"]) == (
        "both", "synthcats", "H100", 2, 1000)
    assert params["push_to_hub"] == "me/cats" and params["no_eval"] is False
    assert jobs.parse_train_args(params["train_args"]) == ("--lr", "1e-4")
    assert (params["label_column"], params["image_column"]) == ("breed", None)


def test_entrypoint_spawns_the_training_and_waits_on_the_call(monkeypatch, capsys):
    """`.remote()` calls expire after 24 hours, which a retried 24 h training exceeds: spawn, then get."""
    calls = []

    class Call:
        def get(self, timeout=None):
            calls.append("get")
            return {"run": "r1", "generator": {"final_step": 40, "resumed_from": 20}, "stages": {}}

    class Train:
        def spawn(self, spec, push_to_hub):
            calls.append(("spawn", spec["run_name"], spec["steps"], push_to_hub))
            return Call()

        def remote(self, *args, **kwargs):
            raise AssertionError("the 24 h training must not be called with .remote()")

    class PrepareData:
        def remote(self, spec):
            calls.append(("prepare", spec["run_name"]))
            return {"train": 24}

    monkeypatch.setattr(train_modal, "train_on", lambda gpu, gpus, secrets=None: Train())
    monkeypatch.setattr(train_modal, "prepare_data", PrepareData())
    train_modal.main.info.raw_f(model="generator", data="synthcats", steps=40, run_name="r1", no_eval=True)
    assert calls == [("prepare", "r1"), ("spawn", "r1", 40, ""), "get"]
    out = capsys.readouterr().out
    assert "generator: finished at step 40 (this call resumed from step 20)" in out
    assert "modal volume get tiny-cats-runs r1/generator/pipeline r1/generator" in out


# ---------------------------------------------------------------- command lines, as data


def test_multi_gpu_launch_command():
    args = ["generator", "--out", "/runs/r/generator"]
    assert jobs.launch_command(args, 1, python="py") == ["py", "-m", "cats.training", *args]
    cmd = jobs.launch_command(args, 4, python="py")
    assert cmd[:3] == ["py", "-m", "accelerate.commands.launch"]
    assert "--multi_gpu" in cmd and cmd[cmd.index("--num_processes") + 1] == "4"
    assert cmd[cmd.index("--num_machines") + 1] == "1"
    launch_opts, trainer = cmd[:cmd.index("-m", 3)], cmd[cmd.index("-m", 3):]
    assert trainer == ["-m", "cats.training", *args]  # the trainer's own flags come after the module, untouched
    assert "--out" not in launch_opts
    with pytest.raises(ValueError):
        jobs.launch_command(args, 0)


def test_train_args_resume_always_and_attach_for_both(tmp_path):
    spec = jobs.JobSpec(run_name="r", model="both", data="oxford", preset="small", classifier_preset="base",
                        steps=50_000, classifier_steps=3000, batch_size=64, checkpoint_every=250,
                        train_args=("--lr", "2e-4"))
    gen = jobs.train_args("generator", spec, tmp_path, Path("/data"))
    clf = jobs.train_args("classifier", spec, tmp_path, Path("/data"), attach_to=tmp_path / "generator" / "pipeline")

    def flag(args, name):
        return args[args.index(name) + 1]

    assert gen[0] == "generator" and clf[0] == "classifier"
    for args in (gen, clf):
        assert "--resume" in args and "--download" in args  # a retry resumes; the data step already downloaded
        assert flag(args, "--data") == "oxford" and flag(args, "--data-root") == "/data"
        assert flag(args, "--checkpoint-every") == "250" and flag(args, "--batch-size") == "64"
        assert args[-2:] == ["--lr", "2e-4"]
    assert (flag(gen, "--preset"), flag(gen, "--steps"), flag(gen, "--out")) == (
        "small", "50000", str(tmp_path / "generator"))
    assert (flag(clf, "--preset"), flag(clf, "--steps"), flag(clf, "--out")) == (
        "base", "3000", str(tmp_path / "classifier"))
    assert flag(clf, "--attach-to") == str(tmp_path / "generator" / "pipeline") and "--attach-to" not in gen
    # the trainer's own parser accepts every line we build
    from cats.training.cli import config_from_args

    assert config_from_args(gen).preset == "small" and config_from_args(clf).attach_to.endswith("pipeline")


def test_evaluate_and_export_command_lines_match_their_clis(tmp_path):
    from cats.evaluation.cli import build_parser
    from cats.export.cli import parse_args as export_args

    spec = jobs.JobSpec(run_name="r", data="oxford")
    cmd = jobs.evaluate_command("classifier", tmp_path / "clf", spec, Path("/data"), tmp_path / "m.json", python="py")
    assert cmd[:4] == ["py", "-m", "cats.evaluation", "classifier"]
    args = build_parser().parse_args(cmd[3:])
    assert (args.model, args.data, args.split, args.data_root, args.out) == (
        str(tmp_path / "clf"), "oxford", "test", "/data", str(tmp_path / "m.json"))
    assert args.download  # so evaluation finds the data wherever the data step got it (archive or Hub mirror)

    cmd = jobs.export_command(tmp_path / "pipeline", tmp_path / "onnx", python="py")
    args = export_args(cmd[2:])
    assert (args.model, args.out, args.check) == (str(tmp_path / "pipeline"), tmp_path / "onnx", False)


def test_validation_errors_name_the_accepted_values():
    with pytest.raises(ValueError, match="generator, classifier, both"):
        jobs.validate(jobs.JobSpec(run_name="r", model="gan"))
    with pytest.raises(ValueError, match="oxford, synthcats, hf:OWNER/NAME"):
        jobs.validate(jobs.JobSpec(run_name="r", data="imagenet"))
    with pytest.raises(ValueError, match="--gpus"):
        jobs.validate(jobs.JobSpec(run_name="r", gpus=0))
    with pytest.raises(ValueError, match="--steps"):
        jobs.validate(jobs.JobSpec(run_name="r", steps=0))
    with pytest.raises(ValueError, match="run-name"):
        jobs.validate(jobs.JobSpec(run_name="../escape"))
    with pytest.raises(ValueError, match="use --model both, or --no-eval"):  # its evaluation needs a classifier
        jobs.validate(jobs.JobSpec(run_name="r", model="generator"))
    assert jobs.validate(jobs.JobSpec(run_name="r", model="generator", evaluate=False)).tasks == ("generator",)
    assert jobs.gpu_spec("A100") == "A100" and jobs.gpu_spec("H100", 8) == "H100:8"
    with pytest.raises(ValueError, match="between 1 and 8"):
        jobs.gpu_spec("H100", 9)


def test_fetch_commands():
    summary = {"run": "r1", "generator": {}, "classifier": {}, "onnx": "/runs/r1/onnx",
               "stages": {"train:generator": {}, "evaluate:generator": {}}}
    lines = jobs.fetch_commands("tiny-cats-runs", summary)
    assert lines[0] == "mkdir -p r1 r1/classifier r1/generator"
    assert "modal volume get tiny-cats-runs r1/generator/pipeline r1/generator" in lines
    assert "modal volume get tiny-cats-runs r1/onnx r1" in lines
    assert "modal volume get tiny-cats-runs r1/metrics r1" in lines
    assert all("checkpoints" not in line for line in lines)  # results only, not GBs of optimizer states


def test_hub_dataset_flags_reach_the_trainer_and_the_evaluator(tmp_path):
    from cats.evaluation.cli import build_parser
    from cats.training.cli import config_from_args

    spec = jobs.validate(jobs.JobSpec(run_name="r", model="both", data="hf:someone/cat-breeds:full@v2",
                                      label_column="breed"))
    assert spec.from_hub and jobs.JobSpec(run_name="r", data="oxford").from_hub  # Oxford may fall back to the Hub
    assert not jobs.JobSpec(run_name="r", data="synthcats").from_hub
    args = jobs.train_args("classifier", spec, tmp_path, Path("/data"))
    assert "--download" not in args and args[args.index("--label-column") + 1] == "breed"
    config = config_from_args(args)
    assert (config.data, config.label_column, config.image_column) == ("hf:someone/cat-breeds:full@v2", "breed", None)
    cmd = jobs.evaluate_command("generator", tmp_path / "p", spec, Path("/data"), tmp_path / "m.json", python="py")
    parsed = build_parser().parse_args(cmd[3:])
    assert (parsed.data, parsed.label_column) == ("hf:someone/cat-breeds:full@v2", "breed")

    with pytest.raises(ValueError, match=r"not a Hub dataset name: expected hf:OWNER/NAME"):
        jobs.validate(jobs.JobSpec(run_name="r", data="hf:/home/me/cats"))  # no local paths in Modal's containers
    with pytest.raises(ValueError, match="name columns of a Hub dataset"):
        jobs.validate(jobs.JobSpec(run_name="r", data="oxford", label_column="breed"))
    card_spec = jobs.JobSpec(run_name="r", data="hf:timm/oxford-iiit-pet")
    assert "[timm/oxford-iiit-pet](https://huggingface.co/datasets/timm/oxford-iiit-pet)" in jobs.data_description(
        card_spec.data)
    assert train_modal.default_run_data("hf:someone/cat-breeds:full@v2") == "cat-breeds"


def test_hub_token_secret_is_optional_for_reading_and_required_for_publishing(monkeypatch, capsys):
    import modal

    class Missing:
        def hydrate(self):
            raise modal.exception.NotFoundError("Secret 'huggingface' not found")

    monkeypatch.setattr(train_modal.modal.Secret, "from_name", lambda *a, **k: Missing())
    assert train_modal.hf_secret(required=False) is None
    assert "public datasets allow" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--push-to-hub needs the Modal secret"):
        train_modal.hf_secret()


# ---------------------------------------------------------------- the job bodies, run for real


def test_prepare_data_for_a_hub_dataset_from_the_volume_cache(tmp_path):
    from cats.data.hub import hf_cache_dir
    from tests import hub_fixture as hx

    local = hx.build_generic(tmp_path / "src" / "pets")
    hx.cache_as_hub(local, hf_cache_dir(tmp_path / "data"), "someone/pets", "c" * 40)  # as a first run left it
    spec = _micro_spec("hub", steps=10, data="hf:someone/pets", train_args=("--threads", "1"))
    counts = jobs.prepare_data(spec, tmp_path / "data")
    assert counts == {"generator/train (32 px)": 40, "generator/val (32 px)": 5, "generator/test (32 px)": 5}
    assert len(list((tmp_path / "data" / "hub" / "someone_pets").glob("*.npz"))) == 3


def test_prepare_data_builds_the_cache_the_trainer_reads(tmp_path):
    spec = _micro_spec("data", steps=10, model="both", classifier_preset="tiny", train_args=COMMON_ARGS)
    counts = jobs.prepare_data(spec, tmp_path)
    assert set(counts) == {f"{task}/{split} (32 px)" if task == "generator" else f"{task}/{split} (64 px)"
                           for task in ("generator", "classifier") for split in ("train", "val", "test")}
    assert counts["generator/train (32 px)"] == 12 * 2  # 12 breeds x --num-per-class 2
    assert counts["classifier/train (64 px)"] == 13 * 2  # + "other" for the classifier
    cached = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert cached, "the data step wrote nothing into the data directory"
    stamps = {p: p.stat().st_mtime_ns for p in cached}
    jobs.prepare_data(spec, tmp_path)  # idempotent: the second call re-uses the caches
    assert {p: p.stat().st_mtime_ns for p in cached} == stamps
    with pytest.raises(ValueError, match="cats.training rejects"):
        jobs.prepare_data(_micro_spec("bad", steps=10, preset="gigantic"), tmp_path)


class Preempted(Exception):
    """Stands for Modal stopping the container: raised from the checkpoint hook."""


@pytest.fixture(scope="module")
def preempted_run(tmp_path_factory):
    """A generator run killed after its first committed checkpoint, then retried to the end."""
    runs, data = tmp_path_factory.mktemp("runs"), tmp_path_factory.mktemp("data")
    spec = _micro_spec("preempted", steps=40)
    task_dir = runs / spec.run_name / "generator"
    first_commits = []

    def preempt(task, step):
        first_commits.append((task, step))
        raise Preempted

    with pytest.raises(Preempted):
        jobs.run_job(spec, runs, data, on_checkpoint=preempt, poll_seconds=0.05)
    killed_at = jobs.complete_checkpoints(task_dir)
    time.sleep(1.0)
    after_kill = jobs.complete_checkpoints(task_dir)
    stamps = {p: p.stat().st_mtime_ns for p in task_dir.glob("checkpoints/step_*/state.pt")}

    commits, persists = [], []
    summary = jobs.run_job(spec, runs, data, on_checkpoint=lambda task, step: commits.append((task, step)),
                           persist=lambda: persists.append(True), poll_seconds=0.05)
    rewritten = sorted(p.parent.name for p, stamp in stamps.items() if p.stat().st_mtime_ns != stamp)
    return dict(spec=spec, runs=runs, data=data, first_commits=first_commits, killed_at=killed_at,
                after_kill=after_kill, commits=commits, persists=persists, summary=summary, rewritten=rewritten,
                steps_on_disk=jobs.complete_checkpoints(task_dir))


@pytest.mark.slow
def test_preempted_training_resumes_from_the_committed_checkpoint(preempted_run):
    r = preempted_run
    assert r["first_commits"] and r["first_commits"][0][0] == "generator"
    first = r["first_commits"][0][1]
    assert 0 < first < 40
    killed_at = r["killed_at"][-1]
    assert first <= killed_at < 40  # killed mid-run ...
    assert r["after_kill"] == r["killed_at"]  # ... for real: no checkpoint appeared after the kill

    gen = r["summary"]["generator"]
    assert gen["resumed_from"] == killed_at  # the retry continued from the newest checkpoint ...
    assert r["rewritten"] == []  # ... and did not redo the first attempt's steps (a restart rewrites them)
    assert r["steps_on_disk"] == list(range(5, 41, 5))
    assert gen["final_step"] == 40
    assert r["commits"] and all(task == "generator" and step > killed_at for task, step in r["commits"])
    assert r["commits"][-1] == ("generator", 40)  # the final checkpoint was committed too
    assert r["persists"]  # and the finished stage
    state = jobs.read_state(r["runs"] / "preempted")
    assert state["stages"]["train:generator"]["final_step"] == 40
    assert (r["runs"] / "preempted" / "generator" / "pipeline" / "model_index.json").is_file()
    config = json.loads((r["runs"] / "preempted" / "generator" / "config.json").read_text())
    assert config["steps"] == 40 and config["preset"] == "micro"  # the trainer got the spec's settings


@pytest.mark.slow
def test_finished_stages_are_skipped_and_other_settings_refused(preempted_run):
    r = preempted_run
    commits = []
    start = time.monotonic()
    again = jobs.run_job(r["spec"], r["runs"], r["data"], on_checkpoint=lambda *a: commits.append(a))
    assert again["generator"]["skipped"] is True and again["generator"]["final_step"] == 40
    assert commits == [] and time.monotonic() - start < 5  # no trainer was started
    with pytest.raises(ValueError, match="steps: the run has 40, requested 80"):
        jobs.run_job(_micro_spec("preempted", steps=80), r["runs"], r["data"], on_checkpoint=lambda *a: None)


# ---------------------------------------------------------------- model card and Hub


def _finished_run(tmp_path: Path, metrics: dict | None) -> Path:
    spec = jobs.JobSpec(run_name="done", model="generator", data="synthcats", preset="micro", steps=1234)
    state = jobs.RunState(tmp_path, spec)
    state.mark("train:generator", resumed_from=1000, final_step=1234, committed_steps=[1100, 1234])
    pipeline = state.dir / "generator" / "pipeline"
    pipeline.mkdir(parents=True)
    (pipeline / "model_index.json").write_text("{}")
    if metrics is not None:
        (state.dir / "metrics").mkdir()
        (state.dir / "metrics" / "generator.json").write_text(json.dumps(metrics))
        state.mark("evaluate:generator", metrics="metrics/generator.json")
    return state.dir


def test_model_card_contains_only_measured_values(tmp_path):
    metrics = {"default": {"steps": 20, "breed_accuracy": {"mean": 0.8125, "num_samples": 2400}},
               "fid": {"fid": 41.37219, "note": "text"}, "sweep": [{"steps": 4, "accuracy": 0.33}],
               "confusion_matrix": [[1, 2], [3, 4]], "answered_accuracy": None, "quick": False}
    card = jobs.model_card(_finished_run(tmp_path, metrics), "someone/cats")
    assert "| fid.fid | 41.37 |" in card and "| default.breed_accuracy.mean | 0.8125 |" in card
    assert "| default.breed_accuracy.num_samples | 2400 |" in card and "| default.steps | 20 |" in card
    assert "synthcats" in card.lower() and "`micro`" in card and "1234 optimizer steps" in card
    assert "sweep" not in card and "confusion" not in card and "answered" not in card and "quick" not in card
    allowed = {"41.37", "0.8125", "2400", "20", "1234", "12"}  # the measured figures, the steps, "12 breeds"
    numbers = set(re.findall(r"\d+(?:\.\d+)?", card.split("---", 2)[2]))
    assert numbers <= allowed, f"figures that were not measured: {numbers - allowed}"

    empty = jobs.model_card(_finished_run(tmp_path / "unmeasured", None), "someone/cats")
    assert "No evaluation was recorded" in empty and "fid" not in empty


def test_push_without_token_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.delenv(jobs.HF_TOKEN_ENV, raising=False)
    with pytest.raises(jobs.MissingTokenError, match="modal secret create huggingface HF_TOKEN="):
        jobs.push_to_hub(_finished_run(tmp_path, {"fid": 1.5}), "someone/cats")


class RecordingHub:
    """Stands in for huggingface_hub.HfApi (no network here): records what would be uploaded."""

    def __init__(self):
        self.repos, self.files, self.card = [], [], None

    def create_repo(self, repo_id, exist_ok=False):
        self.repos.append((repo_id, exist_ok))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, repo_id, folder_path, commit_message):
        root = Path(folder_path)
        self.files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        self.card = (root / "README.md").read_text()


def test_push_uploads_pipeline_card_and_metrics_and_refuses_unmeasured_runs(tmp_path):
    hub = RecordingHub()
    run = _finished_run(tmp_path, {"fid": 1.5})
    assert jobs.push_to_hub(run, "someone/cats", token="hf_test", api=hub) == "https://huggingface.co/someone/cats"
    assert hub.repos == [("someone/cats", True)]
    assert hub.files == ["README.md", "metrics/generator.json", "model_index.json"]
    assert hub.card == jobs.model_card(run, "someone/cats")

    unmeasured = _finished_run(tmp_path / "u", None)
    with pytest.raises(jobs.JobError, match="evaluate:generator not finished"):
        jobs.push_to_hub(unmeasured, "someone/cats", token="hf_test", api=RecordingHub())
