"""The EvaluationReport component, `python -m report` and the HTML in headless Chromium, on the
shared small pipeline run (the `runs` fixture in conftest.py: a blessed first run with no
baseline, a cached rerun, and a rerun whose gate the model fails)."""

import json
import os

import pytest

from report import wording
from tests import chromium

pytestmark = pytest.mark.e2e


def report_dir(summary) -> str:
    return summary.component("EvaluationReport").output("report").uri


def load_facts(summary):
    with open(os.path.join(report_dir(summary), "facts.json"), encoding="utf-8") as handle:
        return json.load(handle)


def test_every_run_wrote_a_report(runs):
    assert runs.cached.component("EvaluationReport").state == "CACHED"  # the first's report
    assert report_dir(runs.cached) == report_dir(runs.first)
    for summary in (runs.first, runs.strict):
        assert summary.component("EvaluationReport").state == "COMPLETE"
        for name in ("report.html", "report.md", "facts.json"):
            assert os.path.getsize(os.path.join(report_dir(summary), name)) > 0, name


def test_first_report_blessed_without_baseline_and_pushed(runs):
    config, first = runs.config, runs.first
    facts = load_facts(first)
    assert facts["verdict"]["blessed"] is True and facts["verdict"]["baseline_uri"] is None
    assert facts["push"] == {"pushed": True, "version": "1", "new": True,
                             "destination": os.path.join(config.model_dir, "1")}
    assert facts["data"]["splits"]["eval"] == {"listed": 12, "ingested": 12, "repaired": 0,
                                               "quarantined": 0, "constant": 0}
    assert facts["overall"]["examples"] == 12
    assert len(facts["history"]["loss"]) == len(facts["history"]["val_loss"]) == config.trainer.epochs
    samples = facts["samples"]
    assert samples["scored"] == samples["available"] == 12  # under the default cap of 256
    # Every eval image has S x S pixels, so the mean of the per-image accuracies that
    # serving_default gives must equal TFMA's pixel accuracy (serving_examples): no skew.
    assert samples["mean_pixel_accuracy"] == pytest.approx(
        facts["overall"]["candidate"]["pixel_accuracy"], abs=1e-6)
    assert len(samples["best"]) == len(samples["worst"]) == config.report_samples
    worst = min(e["pixel_accuracy"] for e in samples["best"])
    assert all(e["pixel_accuracy"] <= worst for e in samples["worst"])
    names = {s["name"] for s in facts["slices"] if s["feature"] == "breed"}
    assert len(names) >= 5  # the eval examples carry the breed label: one slice per breed
    text = open(os.path.join(report_dir(first), "report.md"), encoding="utf-8").read()
    assert "✅ **Blessed**" in text and "Baseline: none" in text
    # What the Trainer validated on after each epoch, recorded and worded on the page.
    assert facts["model"]["validation"] == {
        "every_nth_epoch": config.trainer.validation_freq,
        "every_nth_example": config.trainer.validation_subsplits}
    page = open(os.path.join(report_dir(first), "report.html"), encoding="utf-8").read()
    assert (f"validation loss ({wording.validation_text(facts['model'])}, at the model"
            in page)


def test_reports_show_both_resolutions_and_which_metric_gated(runs):
    config, first, strict = runs.config, runs.first, runs.strict
    facts = load_facts(first)
    candidate = facts["overall"]["candidate"]
    for name in ("native_pixel_accuracy", "native_mean_iou", "native_pet_iou",
                 "native_border_iou", "foreground_iou"):
        assert 0.0 <= candidate[name] <= 1.0, name
    assert facts["overall"]["native_pixels"] == sum(candidate["native_pixel_confusion_matrix"])
    assert facts["overall"]["native_pixels"] != facts["overall"]["pixels"] == 12 * 64 * 64
    assert facts["verdict"]["gate"] == [config.gate_metric]
    text = open(os.path.join(report_dir(strict), "report.md"), encoding="utf-8").read()
    assert "| metric | classes | at model input (64×64) | at each image's own size |" in text
    assert ("The push is gated on native_pixel_accuracy: pixel accuracy at each image's own "
            "size, 3 classes.") in text
    assert "| native_pixel_accuracy (value) | ≥ 0.9999 |" in text
    page = open(os.path.join(report_dir(strict), "report.html"), encoding="utf-8").read()
    strict_facts = load_facts(strict)
    gate_value = strict_facts["overall"]["candidate"]["native_pixel_accuracy"]
    assert f'<b title="gates the push">{gate_value:.4f} (gate)</b>' in page
    assert "<h3>At model input (64×64)</h3>" in page
    assert "<h3>At each image&#x27;s own size</h3>" in page  # html.escape's apostrophe


def test_report_of_a_rejected_model_says_why(runs):
    strict = runs.strict
    facts = load_facts(strict)
    verdict = facts["verdict"]
    assert verdict["blessed"] is False and facts["push"]["pushed"] is False
    value = [t for t in verdict["thresholds"] if t["kind"] == "value"][0]
    assert (value["op"], value["limit"], value["passed"]) == (">=", 0.9999, False)
    # The candidate is the first run's model (the Trainer was cached), blessed by that run: it
    # is not its own baseline, and no other model was blessed.
    assert verdict["baseline_uri"] is None and not facts["overall"].get("baseline")
    page = open(os.path.join(report_dir(strict), "report.html"), encoding="utf-8").read()
    assert "Not blessed" in page and ">FAIL<" in page and "Not pushed" in page


def test_command_rebuilds_a_report_from_the_pipeline_root(runs, tmp_path, capsys):
    from report.__main__ import main

    config, first, strict = runs.config, runs.first, runs.strict
    assert main(["--pipeline-root", config.pipeline_root, "--output", str(tmp_path / "latest"),
                 "--max-examples", "5", "--samples", "2"]) == 0
    assert "report.html" in capsys.readouterr().out
    latest = json.load(open(tmp_path / "latest" / "facts.json"))
    assert latest["run_id"] == strict.run_id and latest["verdict"]["blessed"] is False
    assert latest["samples"]["scored"] == 5 and latest["samples"]["available"] == 12
    assert len(latest["samples"]["best"]) == len(latest["samples"]["worst"]) == 2
    page = open(tmp_path / "latest" / "report.html", encoding="utf-8").read()
    assert "Scored 5 of 12 eval examples" in page
    # An evaluation directory finds its own run in the metadata store.
    assert main(["--evaluation-dir", first.evaluation_uri, "--output",
                 str(tmp_path / "first"), "--max-examples", "0"]) == 0
    earlier = json.load(open(tmp_path / "first" / "facts.json"))
    assert earlier["run_id"] == first.run_id and earlier["push"]["version"] == "1"


def test_report_opens_in_headless_chromium(runs, tmp_path):
    strict = runs.strict
    page = os.path.join(report_dir(strict), "report.html")
    probe = chromium.inspect_page(page, str(tmp_path))
    assert probe["errors"] == []
    facts = load_facts(strict)
    shown = len(facts["samples"]["best"]) + len(facts["samples"]["worst"])
    assert len(probe["images"]) == 4 * shown > 0
    for image in probe["images"]:
        assert image["complete"] and image["naturalWidth"] == 64, image
    assert probe["svgs"] >= 5  # 2 confusion matrices, species, breed, training curves
    shot = chromium.screenshot(page, str(tmp_path / "report.png"), str(tmp_path))
    chromium.assert_not_blank(shot)
