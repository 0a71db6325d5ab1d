"""The README's figures for the bundled generator are the ones its evaluation wrote beside the weights.

A campaign block (python -m cats.benchmarks.campaign block) replaces the bundled generator and its
metrics_generator.json when it scores a lower FID; the README's table must then be rewritten from the new file.
"""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METRICS = ROOT / "cats" / "weights" / "synthcats" / "metrics_generator.json"
SECTION = "## The bundled weights and how good they are"


def _section() -> str:
    text = (ROOT / "README.md").read_text()
    assert SECTION in text, f"README.md lost its section {SECTION!r}"
    return text.split(SECTION, 1)[1].split("\n## ", 1)[0]


def _missing(section: str, expected: list[str]) -> list[str]:
    return [line for line in expected if line not in section]


def _lowest(per_breed: dict) -> str:
    name = min(per_breed, key=per_breed.get)
    return f"lowest {name} {per_breed[name]:.0%}"


def test_readme_quotes_the_bundled_generators_evaluation():
    """The quality table: the guided default beside classifier-free guidance alone, both from the same evaluation."""
    m = json.loads(METRICS.read_text())
    q, acc, c = m["quality"], m["default"]["breed_accuracy"], m["cfg_only"]
    cq, cacc = c["quality"], c["breed_accuracy"]
    j, cj = q["judge"], cq["judge"]
    memo, cmemo = q["memorisation"], cq["memorisation"]
    expected = [
        f"| FID (Inception pool features, 299 px) | **{q['fid']:.1f}** | {cq['fid']:.1f} |",
        f"| FID floor: {q['num_fake']:,} training vs the {q['num_real']:,} test drawings | {q['fid_floor']:.1f} | "
        f"{cq['fid_floor']:.1f} |",
        f"| k-NN precision / recall (k = {q['k']}, same features) | **{q['precision']:.3f}** / {q['recall']:.3f} | "
        f"{cq['precision']:.3f} / {cq['recall']:.3f} |",
        f"| independent breed judge (a linear probe on the same features: {j['real_accuracy']:.1%} on the test "
        f"drawings) | **{j['mean']:.1%}**, {_lowest(j['per_breed'])} | {cj['mean']:.1%}, {_lowest(cj['per_breed'])} |",
        f"| breed accuracy under the bundled classifier | {acc['mean']:.1%}, {_lowest(acc['per_breed'])} | "
        f"{cacc['mean']:.1%}, {_lowest(cacc['per_breed'])} |",
        f"| nearest training image, RMS pixel distance, 5% quantile / median (test drawings "
        f"{memo['test']['q05']:.3f} / {memo['test']['q50']:.3f}) | {memo['samples']['q05']:.3f} / "
        f"{memo['samples']['q50']:.3f} | {cmemo['samples']['q05']:.3f} / {cmemo['samples']['q50']:.3f} |",
        f"| samples nearer a training image than every test drawing is | {memo['share_closer_than_any_test']:.1%} | "
        f"{cmemo['share_closer_than_any_test']:.1%} |",
        f"guidance {m['default']['guidance']:g} + autoguidance {m['default']['autoguidance']:g}",
        f"guidance {c['guidance']:g} alone",
    ]
    missing = _missing(_section(), expected)
    assert not missing, ("README.md's table of the bundled generator differs from "
                         f"{METRICS.relative_to(ROOT)}; write these figures: {missing}")


def test_readme_sweep_table_is_the_bundled_evaluations_sweep():
    sweep = json.loads(METRICS.read_text())["sweep"]
    per_config = {row["num_samples"] for row in sweep}
    assert len(per_config) == 1, per_config
    guidances = sorted({row["guidance"] for row in sweep})
    cell = {(row["steps"], row["guidance"]): row["accuracy"] for row in sweep}
    expected = [f"Breed accuracy of samples over steps x guidance ({per_config.pop()} samples each",
                "| steps | " + " | ".join(f"guidance {g:g}" for g in guidances) + " |"]
    expected += [f"| {steps} | " + " | ".join(f"{cell[steps, g]:.1%}" for g in guidances) + " |"
                 for steps in sorted({row["steps"] for row in sweep})]
    missing = _missing(_section(), expected)
    assert not missing, f"README.md's sweep table differs from {METRICS.relative_to(ROOT)}: {missing}"


def test_campaign_logs_the_bundled_generator_as_its_last_bundled_row():
    rows = json.loads((ROOT / "docs" / "campaign.json").read_text())
    bundled = [r for r in rows if r.get("bundled")]
    metrics = json.loads(METRICS.read_text())
    q = (metrics.get("cfg_only") or metrics)["quality"]  # a block is judged with classifier-free guidance alone
    # the row judged the run's float32 EMA weights, the bundle holds them in fp16 (re-judged: 116.12 -> 116.11)
    assert bundled and abs(bundled[-1]["fid"] - q["fid"]) < 0.5 and bundled[-1]["samples"] == q["num_fake"], (
        "docs/campaign.json's last bundled row is not the evaluation of the bundled generator")
