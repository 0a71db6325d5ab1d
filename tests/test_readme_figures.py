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


def test_readme_quotes_the_bundled_generators_evaluation():
    m = json.loads(METRICS.read_text())
    q, acc = m["quality"], m["default"]["breed_accuracy"]
    memo = q["memorisation"]
    lowest = min(acc["per_breed"], key=acc["per_breed"].get)
    expected = [
        f"| FID (Inception pool features, 299 px) | **{q['fid']:.1f}**",
        f"| FID floor: {q['num_fake']:,} training vs the {q['num_real']:,} test drawings | {q['fid_floor']:.1f} |",
        f"| k-NN precision / recall (k = {q['k']}, same features) | {q['precision']:.3f} / {q['recall']:.3f} |",
        f"| breed accuracy of samples under the bundled classifier | **{acc['mean']:.1%}**",
        f"lowest breed {lowest} {acc['per_breed'][lowest]:.0%}",
        f"samples {memo['samples']['q05']:.3f} / {memo['samples']['q50']:.3f}; "
        f"test drawings {memo['test']['q05']:.3f} / {memo['test']['q50']:.3f}",
        f"| samples nearer a training image than every test drawing is | {memo['share_closer_than_any_test']:.1%} |",
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
    q = json.loads(METRICS.read_text())["quality"]
    assert bundled and abs(bundled[-1]["fid"] - q["fid"]) < 1e-9 and bundled[-1]["samples"] == q["num_fake"], (
        "docs/campaign.json's last bundled row is not the evaluation of the bundled generator")
