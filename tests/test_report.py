"""The evaluation report's rendering and fact gathering, from a small recorded evaluation.

tests/data/report/ holds what a real small pipeline run recorded (24 generated images, 64 px,
2 epochs, a gate of native pixel accuracy >= 0.9999 the model failed, the run before as
baseline):
`evaluation/` is the Evaluator's output as TFMA wrote it, `facts.json` the facts
report/facts.py gathered from that run (regenerate both with the commands in
tests/data/report/README.md). No pipeline runs here.
"""

import copy
import json
import os
import re

import pytest

DATA = os.path.join(os.path.dirname(__file__), "data", "report")
EVALUATION = os.path.join(DATA, "evaluation")


@pytest.fixture(scope="module")
def facts():
    with open(os.path.join(DATA, "facts.json"), encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def page(facts):
    from report import render_html

    return render_html.render(facts)


# ---- charts ----

def test_heat_map_shows_counts_and_row_normalized_rates():
    from report import svg

    chart = svg.heat_map([[30, 10, 0], [5, 45, 0], [0, 0, 0]], ["pet", "background", "border"])
    assert chart.startswith("<svg") and chart.endswith("</svg>")
    for text in ("75.0%", "25.0%", "30 px", "10 px", "10.0%", "90.0%", "45 px"):
        assert f">{text}<" in chart, text
    assert chart.count("<rect") == 9
    assert ">0.0%<" in chart  # an empty row shows 0%, not a division error


def test_bar_chart_keeps_the_given_order_and_clips_values():
    from report import svg

    chart = svg.bar_chart([("worst", 0.2, "n=3"), ("middle", 0.5, ""), ("best", 1.3, "")],
                          "pixel accuracy", reference=("all", 0.6))
    labels = re.findall(r'text-anchor="end"[^>]*>([^<]+)</text>', chart)
    assert labels == ["worst", "middle", "best"]
    assert ">1.000<" in chart  # 1.3 is drawn and labelled as 1
    assert ">0.200 n=3<" in chart and ">all 0.600<" in chart


def test_bar_axis_starts_below_the_smallest_high_value():
    from report import svg

    assert svg.axis_floor([0.2, 0.9]) == 0.0
    assert svg.axis_floor([0.946, 0.969]) == pytest.approx(0.85)
    chart = svg.bar_chart([("a", 0.9, ""), ("b", 1.0, "")], "pixel accuracy", low=0.8)
    widths = [float(w) for w in re.findall(r'<rect x="200" y="[^"]+" width="([^"]+)"', chart)]
    assert widths[1] == pytest.approx(2 * widths[0], rel=1e-3)  # 0.9 is half-way from 0.8
    assert ">0.8<" in chart and ">1<" in chart


def test_line_chart_draws_one_line_per_series():
    from report import svg

    chart = svg.line_chart([("loss", [1.0, 0.5, 0.25]), ("val_loss", [1.2, 0.9, 0.8])],
                           "epoch", "loss")
    assert chart.count("<polyline") == 2
    assert chart.count("<circle") == 6
    assert svg.line_chart([("loss", [])], "epoch", "loss") == ""


def test_every_chart_is_well_formed_xml():
    """Notebook displays (IPython's SVG) parse the charts as XML; browsers forgive what XML
    refuses, such as an attribute written twice, so the page alone would not show it."""
    from xml.etree import ElementTree

    from report import svg

    charts = [svg.heat_map([[3, 1, 0], [0, 4, 0], [0, 0, 1]], ["pet", "back & <ground>", "b"]),
              svg.bar_chart([("a \"quoted\"", 0.4, "n=2")], "accuracy", reference=("all", 0.5)),
              svg.line_chart([("loss", [1.0, 0.5])], "epoch", "loss"),
              svg.range_chart([("height", [10.0, 20.0, 30.0], 25.0)], unit="px")]
    for chart in charts:
        root = ElementTree.fromstring(chart)
        assert root.tag.endswith("svg") and len(root) > 1


# ---- the HTML page ----

def test_page_is_self_contained(page):
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r'(src|href)="(https?:)?//', page), "a reference outside the file"
    assert "<script" not in page
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert sources and all(s.startswith(("data:image/png;base64,", "data:image/jpeg;base64,"))
                           for s in sources)


def test_page_states_the_verdict_thresholds_and_baseline(facts, page):
    assert facts["verdict"]["blessed"] is False
    assert "Not blessed" in page and ">FAIL<" in page
    assert "≥ 0.9999" in page  # the value threshold, with the candidate's value beside it
    value = facts["overall"]["candidate"]["native_pixel_accuracy"]
    assert f"{value:.4f}" in page
    assert facts["verdict"]["baseline_uri"] in page
    assert "Not pushed" in page


def test_page_says_which_metric_gated_at_which_resolution(facts, page):
    assert facts["verdict"]["gate"] == ["native_pixel_accuracy"]
    assert ("The push is gated on native_pixel_accuracy: pixel accuracy at each image&#x27;s "
            "own size, 3 classes.") in page
    value = facts["overall"]["candidate"]["native_pixel_accuracy"]
    assert page.count('title="gates the push"') == 1
    assert f'<b title="gates the push">{value:.4f} (gate)</b>' in page


def _metrics_table(page: str) -> str:
    start = page.index("<h2>Metrics</h2>")
    return page[start:page.index("</table>", start)]


def test_page_puts_both_resolutions_side_by_side(facts, page):
    table = _metrics_table(page)
    assert ('<th colspan="3">at model input (64×64)</th>'
            '<th colspan="3">at each image&#x27;s own size</th>') in table
    assert table.count("<th>baseline</th>") == table.count("<th>difference</th>") == 2
    candidate, baseline = facts["overall"]["candidate"], facts["overall"]["baseline"]
    for name in ("pet", "background", "border"):
        for kind, key in (("pixel accuracy", "pixel_accuracy"), ("IoU", "iou")):
            row = table[table.index(f"<td>{name}: {kind}</td>"):]
            row = row[:row.index("</tr>")]
            model, native = candidate[f"{name}_{key}"], candidate[f"native_{name}_{key}"]
            assert row.index(f">{model:.4f}<") < row.rindex(f">{native:.4f}<"), (name, kind)
    for key in ("mean_iou", "native_mean_iou"):
        assert f"{candidate[key]:.4f}" in table and f"{baseline[key]:.4f}" in table
    # Foreground IoU exists at each image's own size only, and says its classes.
    row = table[table.index("<td>foreground IoU</td>"):]
    row = row[:row.index("</tr>")]
    assert "<td>2 classes: pet + border vs background</td>" in row
    assert "not at this size" in row and f"{candidate['foreground_iou']:.4f}" in row
    assert "nearest neighbour" in page and "resized bilinearly" in page  # how each is measured


def test_page_has_both_confusion_matrices_with_counts(facts, page):
    section = page[page.index("<h2>Pixel confusion matrices</h2>"):]
    model = section[section.index("<h3>At model input (64×64)</h3>"):
                    section.index("<h3>At each image")]
    native = section[section.index("<h3>At each image"):section.index("<h2>", 1)]
    for part, name in ((model, "pixel_confusion_matrix"),
                       (native, "native_pixel_confusion_matrix")):
        for count in facts["overall"]["candidate"][name]:
            assert f">{count:,} px<" in part, name
    assert sum(facts["overall"]["candidate"]["native_pixel_confusion_matrix"]) == (
        facts["overall"]["native_pixels"]) != facts["overall"]["pixels"]


def test_breed_slices_are_sorted_worst_first_by_the_gate_metric(facts, page):
    from report import render_html

    assert render_html.slice_metric(facts) == "native_pixel_accuracy"
    breeds = render_html.slice_rows(facts, "breed")
    assert len(breeds) >= 5
    accuracies = [s["candidate"]["native_pixel_accuracy"] for s in breeds]
    assert accuracies == sorted(accuracies)
    chart = page[page.index("<h2>Metrics per slice</h2>"):page.index("<h3>By species</h3>")]
    assert "pixel accuracy (native_pixel_accuracy) at each image&#x27;s own size" in chart
    chart = page[page.index("<h3>By breed</h3>"):]
    positions = [chart.index(f">{s['name']}<") for s in breeds]
    assert positions == sorted(positions)
    assert "<h3>By species</h3>" in page


def test_page_has_training_curves_and_sample_grid(facts, page):
    assert "Training curves" in page and page.count("<polyline") == 2
    # The recorded facts come from a model trained before model_info.json said what it
    # validated on: the whole eval split after each epoch, as the Trainer did then.
    assert "validation" not in facts["model"]
    assert "validation loss (the eval split, after each epoch, at the model" in page
    samples = facts["samples"]
    assert f"Scored {samples['scored']:,} of {samples['available']:,} eval examples" in page
    shown = len(samples["best"]) + len(samples["worst"])
    assert shown > 0 and page.count("<img ") == 4 * shown  # input, truth, prediction, overlay
    for example in samples["best"] + samples["worst"]:
        assert example["name"] in page


def test_facts_of_an_evaluation_before_native_metrics_still_render(facts):
    """An older evaluation has model-size metrics only, gated on pixel_accuracy."""
    from report import render_html, render_markdown

    old = copy.deepcopy(facts)
    for model in ("candidate", "baseline", "diff"):
        old["overall"][model] = {k: v for k, v in old["overall"][model].items()
                                 if not k.startswith("native_") and k != "foreground_iou"}
    for entry in old["slices"]:
        entry["candidate"] = {k: v for k, v in entry["candidate"].items()
                              if not k.startswith("native_")}
    del old["verdict"]["gate"]
    for threshold in old["verdict"]["thresholds"]:
        threshold["metric"] = "pixel_accuracy"
    page = render_html.render(old)
    assert "The push is gated on pixel_accuracy: pixel accuracy at model input (64×64)" in page
    assert render_html.slice_metric(old) == "pixel_accuracy"
    assert "<h3>At each image" not in page
    assert "| pixel accuracy | 3 classes | **0.6662** (gate)" in render_markdown.render(old)


def test_fine_tuning_is_stated_in_the_model_table(facts):
    from report import render_html

    tuned = copy.deepcopy(facts)
    tuned["model"].update(epochs=10, fine_tune={"epochs": 2, "learning_rate": 1e-4, "ran": True})
    tuned["history"]["phase"] = [1.0] * (len(tuned["history"]["loss"]) - 1) + [2.0]
    page = render_html.render(tuned)
    assert ("2 epochs at learning rate 0.0001 after 10 with the encoder frozen (encoder "
            "unfrozen, BatchNorm in inference mode)") in page
    epochs = len(tuned["history"]["loss"])
    assert f"Epochs {epochs}–{epochs} fine-tuned the encoder" in page
    tuned["model"]["fine_tune"] = {"epochs": 2, "learning_rate": 1e-4, "ran": False,
                                   "reason": "no pretrained encoder weights were loaded"}
    assert ("2 epochs asked for, none done: no pretrained encoder weights were loaded"
            in render_html.render(tuned))
    assert "<td>fine-tuning</td><td>none</td>" in render_html.render(facts)


def test_page_says_what_is_missing_instead_of_failing(facts):
    from report import render_html, render_markdown

    sparse = copy.deepcopy(facts)
    sparse.update(history=None, data=None, push=None, model=None,
                  samples={"error": "no candidate SavedModel found"}, slices=[],
                  missing=["push"])
    sparse["overall"]["baseline"] = {}
    sparse["overall"]["diff"] = {}
    page = render_html.render(sparse)
    assert "No training history" in page and "no candidate SavedModel found" in page
    assert "no per-slice metrics" in page and "No push record:" in page
    assert "<th>baseline</th>" not in page and "<th>candidate</th>" in page
    assert "No push record:" in render_markdown.render(sparse)


# ---- the Markdown summary ----

def test_markdown_summary(facts):
    from report import render_markdown

    text = render_markdown.render(facts)
    assert "❌ **Not blessed**" in text and "not pushed" in text
    assert ("| native_pixel_accuracy (value) | ≥ 0.9999 |" in text
            and "**FAIL** (failed on: " in text)
    assert "The push is gated on native_pixel_accuracy: pixel accuracy at each image's" in text
    assert "| metric | classes | at model input (64×64) | at each image's own size |" in text
    overall = facts["overall"]
    assert (f"| pixel accuracy | 3 classes | {overall['candidate']['pixel_accuracy']:.4f} "
            f"(baseline {overall['baseline']['pixel_accuracy']:.4f}, +0.0000) | "
            f"**{overall['candidate']['native_pixel_accuracy']:.4f}** (gate)") in text
    assert "| foreground IoU | 2 classes: pet + border vs background | – |" in text
    assert "Worst breed by native_pixel_accuracy:" in text
    assert "`report.html`" in text
    assert len(text.splitlines()) < 60


# ---- gathering facts from a recorded TFMA evaluation ----

def test_metrics_are_read_per_model_and_slice():
    from report import facts as report_facts
    from runs import evaluation

    slices = evaluation.metrics(EVALUATION)
    overall = slices[evaluation.OVERALL]
    assert set(report_facts.SCALAR_METRICS) <= set(overall["candidate"])
    assert set(report_facts.SCALAR_METRICS) <= set(overall["baseline"])
    for name in ("pixel_accuracy", "mean_iou"):
        assert overall["diff"][name] == pytest.approx(
            overall["candidate"][name] - overall["baseline"][name], abs=1e-9)
    assert len(overall["candidate"]["pixel_confusion_matrix"]) == 9
    features = {entry["feature"] for key, entry in slices.items() if key}
    assert features == {"species", "breed"}
    species = sorted(e["name"] for e in slices.values() if e["feature"] == "species")
    assert species == ["cat", "dog"]
    scalars = evaluation.overall_metrics(EVALUATION, evaluation.BASELINE)
    assert scalars["pixel_accuracy"] == overall["baseline"]["pixel_accuracy"]
    assert "pixel_confusion_matrix" not in scalars  # scalars only


def test_verdict_names_the_failed_threshold():
    from report import facts as report_facts, wording
    from runs import evaluation

    overall = evaluation.metrics(EVALUATION)[evaluation.OVERALL]
    verdict = report_facts.verdict(
        {"blessed": 0, "baseline_model_uri": "/models/baseline"}, overall,
        evaluation.eval_run(EVALUATION), evaluation.validation(EVALUATION))
    assert verdict["blessed"] is False and verdict["validation_ok"] is False
    by_kind = {t["kind"]: t for t in verdict["thresholds"]}
    assert by_kind["value"]["metric"] == "native_pixel_accuracy"
    assert verdict["gate"] == ["native_pixel_accuracy"]
    assert wording.describe_metric(verdict["gate"][0]) == {
        "label": "pixel accuracy", "classes": "3 classes", "resolution": "native"}
    assert (by_kind["value"]["op"], by_kind["value"]["limit"]) == (">=", 0.9999)
    assert wording.bound_text(by_kind["value"]) == "≥ 0.9999"
    assert by_kind["value"]["passed"] is False
    assert by_kind["value"]["failed_on"] == ["all", "cat", "dog"]
    assert wording.threshold_note(by_kind["value"]) == "failed on: all, cat, dog"
    assert by_kind["change"]["passed"] is True  # the candidate is its own baseline
    assert wording.threshold_note(by_kind["change"]) == ""
    assert [f["slice"] for f in verdict["failures"]] == ["all", "cat", "dog"]
    assert wording.failure_text(verdict["failures"][0]) == (
        "native_pixel_accuracy on slice 'all': threshold not met")
    assert verdict["baseline_uri"] == "/models/baseline"


def test_a_change_threshold_without_a_baseline_is_not_checked():
    from report import facts as report_facts, wording

    overall = {"candidate": {"pixel_accuracy": 0.9}, "baseline": {}, "diff": {}}
    run = {"thresholds": [
        {"metric": "pixel_accuracy", "slices": [[]], "kind": "value", "measure": "lower",
         "op": ">=", "limit": 0.8},
        {"metric": "pixel_accuracy", "slices": None, "kind": "change", "measure": "absolute",
         "op": ">=", "limit": -0.01},
        {"metric": "mean_iou", "slices": [[]], "kind": "value", "measure": "lower",
         "op": ">=", "limit": 0.5}], "model_locations": {}}
    value, change, missing = report_facts.verdict(None, overall, run, None)["thresholds"]
    assert value["passed"] is True and wording.threshold_note(value) == ""
    assert change["passed"] is None and "no baseline" in wording.threshold_note(change)
    assert wording.bound_text(change) == "candidate − baseline ≥ -0.01"
    assert wording.slices_text(change["slices"]) == "every slice"
    assert missing["passed"] is False and wording.threshold_note(missing) == (
        "no value recorded")


def test_an_evaluation_dir_alone_gives_a_report_with_notes(tmp_path):
    from report import facts as report_facts, wording, write

    gathered = report_facts.gather(report_facts.RunArtifacts(evaluation_uri=EVALUATION))
    assert gathered["missing"] == ["history", "data", "push", "samples"]
    notes = " ".join(wording.notes(gathered))
    for missing in ("No training history", "No ingest counts", "No push record",
                    "No sample predictions"):
        assert missing in notes
    paths = write.write_report(gathered, str(tmp_path / "out"))
    assert all(os.path.getsize(path) > 0 for path in paths.values())
    assert json.load(open(paths["facts.json"]))["overall"]["candidate"]["pixel_accuracy"] == (
        gathered["overall"]["candidate"]["pixel_accuracy"])


# ---- the command ----

def test_command_help_and_errors(tmp_path, capsys):
    from report.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "--pipeline-root" in capsys.readouterr().out
    assert main(["--pipeline-root", str(tmp_path / "nowhere"), "--output",
                 str(tmp_path / "out")]) == 2  # bad input: nothing to report
    assert "no metadata store" in capsys.readouterr().err
    assert main(["--evaluation-dir", str(tmp_path / "nowhere"), "--output",
                 str(tmp_path / "out")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # one of the two sources is required
        main(["--output", str(tmp_path / "out")])


def test_the_gate_checks_the_split_and_each_species_but_not_each_breed(tmp_path):
    from pipeline.config import PipelineConfig
    from pipeline.pipeline import eval_config
    from report import wording
    from runs import evaluation

    config = eval_config(PipelineConfig(data_dir=str(tmp_path), pipeline_root=str(tmp_path),
                                         serving_dir=str(tmp_path)))
    assert [list(spec.feature_keys) for spec in config.slicing_specs] == [
        [], ["species_name"], ["breed"]]  # breed metrics are computed, by name...
    gated = [metric for spec in config.metrics_specs for metric in spec.metrics
             if metric.per_slice_thresholds or metric.HasField("threshold")]
    assert len(gated) == 1 and not gated[0].HasField("threshold")  # ...but not gated on
    assert json.loads(gated[0].config)["name"] == "native_pixel_accuracy"  # the default gate
    specs = gated[0].per_slice_thresholds[0].slicing_specs
    assert wording.slices_text(evaluation.slicing_specs(specs)) == (
        "whole eval split, each species")
    bounds = evaluation.bounds(gated[0].per_slice_thresholds[0].threshold)
    assert [(bound["kind"], wording.bound_text(bound)) for bound in bounds] == [
        ("value", "≥ 0.8"), ("change", "candidate ≥ baseline")]


@pytest.mark.parametrize("gate_metric", ["pixel_accuracy", "foreground_iou", "native_pet_iou"])
def test_the_gate_metric_is_a_config_choice(tmp_path, gate_metric):
    from pipeline.config import PipelineConfig
    from pipeline.pipeline import eval_config

    config = eval_config(PipelineConfig(data_dir=str(tmp_path), pipeline_root=str(tmp_path),
                                        serving_dir=str(tmp_path), gate_metric=gate_metric,
                                        min_pixel_accuracy=0.5))
    gated = [metric for spec in config.metrics_specs for metric in spec.metrics
             if metric.per_slice_thresholds]
    assert [json.loads(metric.config)["name"] for metric in gated] == [gate_metric]
    threshold = gated[0].per_slice_thresholds[0].threshold
    assert threshold.value_threshold.lower_bound.value == 0.5


def test_report_settings_are_validated_and_reach_the_runner(tmp_path):
    import local_runner
    from pipeline.config import PipelineConfig

    with pytest.raises(ValueError, match="report_max_examples and report_samples"):
        PipelineConfig(data_dir=str(tmp_path), pipeline_root=str(tmp_path),
                       serving_dir=str(tmp_path), report_samples=-1)
    args = local_runner.build_parser().parse_args(
        ["--demo", "--report-max-examples", "7", "--report-samples", "2"])
    config = local_runner.config_from_args(args, str(tmp_path))
    assert (config.report_max_examples, config.report_samples) == (7, 2)


@pytest.mark.parametrize("validation, words", [
    (None, "the eval split, after each epoch"),  # a model trained before it was recorded
    ({"every_nth_epoch": 1, "every_nth_example": 1}, "the eval split, after each epoch"),
    ({"every_nth_epoch": 3, "every_nth_example": 5},
     "one eval example in 5, after every 3 epochs and the last"),
])
def test_validation_is_worded_from_model_info(validation, words):
    from report import wording

    assert wording.validation_text({"validation": validation} if validation else {}) == words
    assert wording.validation_text(None) == "the eval split, after each epoch"
