"""The report as one self-contained HTML file: inline CSS, inline SVG charts, images as data
URIs. No script, no network: it opens in any browser, offline, and can be mailed as is."""

import html
import math
from typing import Any, Dict, List, Optional, Sequence

from report import images, svg
from trainer import features

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;
max-width:1100px;padding:16px 28px;color:#1b1b1b;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;
margin-top:1.6em}.sub{color:#555;font-size:.9em}
.verdict{padding:12px 16px;border-radius:6px;font-size:1.15em;font-weight:600;margin:12px 0}
.blessed{background:#e3f4e3;border:1px solid #7cbf7c}.rejected{background:#fbe3e1;
border:1px solid #d98880}.unknown{background:#eee;border:1px solid #bbb}
table{border-collapse:collapse;margin:8px 0}th,td{border:1px solid #ddd;padding:4px 10px;
text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f5f5f5}
.pass{color:#17702a;font-weight:600}.fail{color:#b3261e;font-weight:600}.skip{color:#777}
.up{color:#17702a}.down{color:#b3261e}
.grid{display:grid;grid-template-columns:repeat(4,180px);gap:6px;margin-bottom:14px}
.grid figure{margin:0}.grid img{width:100%;image-rendering:pixelated;border:1px solid #ccc}
.grid figcaption{font-size:.8em;color:#444}.example{margin-bottom:6px}
.legend span{display:inline-block;width:14px;height:14px;vertical-align:middle;
margin:0 4px 0 12px;border:1px solid #999}code{background:#f3f3f3;padding:0 3px}
.notes li{color:#6a4b00}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _num(value: Optional[float], digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def _signed(value: Optional[float]) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    css = "up" if value > 0 else "down" if value < 0 else ""
    return f'<span class="{css}">{value:+.4f}</span>'


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    """Rows are already HTML; cells from `numeric_from` on are right-aligned."""
    head = "".join(f"<th>{_e(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(
        f'<td class="num">{cell}</td>' if index >= numeric_from else f"<td>{cell}</td>"
        for index, cell in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def verdict_section(facts: Dict[str, Any]) -> str:
    verdict = facts["verdict"]
    blessed = verdict["blessed"]
    if blessed is True:
        banner, css = "Blessed: the candidate passed every threshold.", "blessed"
    elif blessed is False:
        banner, css = "Not blessed: the candidate failed a threshold (below).", "rejected"
    else:
        banner, css = "No blessing recorded (no thresholds, or the blessing is unknown).", \
            "unknown"
    push = facts.get("push")
    if push and push["pushed"]:
        banner += f" Pushed as version {push['version']}."
    elif push is not None:
        banner += " Not pushed."
    rows = []
    for threshold in verdict["thresholds"]:
        state = threshold["passed"]
        result = ('<span class="pass">pass</span>' if state else
                  '<span class="skip">not checked</span>' if state is None else
                  '<span class="fail">FAIL</span>')
        shown = (_signed(threshold["value"]) if threshold["kind"] == "change"
                 else _num(threshold["value"]))
        rows.append([_e(threshold["metric"]), _e(threshold["kind"]), _e(threshold["bound"]),
                     _e(threshold.get("slices", "")), shown, result + (f' <span class="skip">{_e(threshold["note"])}</span>'
                                      if threshold["note"] else "")])
    parts = [f'<div class="verdict {css}">{_e(banner)}</div>']
    if rows:
        parts.append(_table(["metric", "threshold", "bound", "checked on", "value (all)",
                             "result"], rows, 4))
    if verdict["failures"]:
        parts.append("<p>TFMA's validation failures:</p><ul>" + "".join(
            f"<li>{_e(failure)}</li>" for failure in verdict["failures"]) + "</ul>")
    if verdict.get("baseline_uri"):
        parts.append(f"<p>Compared with the baseline model (the latest blessed one): "
                     f"<code>{_e(verdict['baseline_uri'])}</code></p>")
    else:
        parts.append("<p>No baseline model: no model had been blessed before this run, so "
                     "only the value thresholds applied.</p>")
    if verdict.get("candidate_uri"):
        parts.append(f"<p class=\"sub\">Candidate model: <code>{_e(verdict['candidate_uri'])}"
                     f"</code></p>")
    return "<h2>Verdict</h2>" + "".join(parts)


def metric_rows(facts: Dict[str, Any]) -> List[List[Any]]:
    """(label, candidate, baseline or None, difference or None) for the headline metrics."""
    overall = facts["overall"]
    names = [(features.PIXEL_ACCURACY_NAME, "pixel accuracy (all classes)"),
             (features.MEAN_IOU_NAME, "mean IoU")]
    for name in features.CLASS_NAMES:
        names += [(f"{name}_pixel_accuracy", f"{name}: pixel accuracy"),
                  (f"{name}_iou", f"{name}: IoU")]
    rows = []
    for key, label in names:
        candidate = overall["candidate"].get(key)
        baseline = overall["baseline"].get(key)
        diff = overall["diff"].get(key)
        if diff is None and candidate is not None and baseline is not None:
            diff = candidate - baseline
        rows.append([label, candidate, baseline, diff])
    return rows


def metrics_section(facts: Dict[str, Any]) -> str:
    rows = metric_rows(facts)
    has_baseline = any(row[2] is not None for row in rows)
    header = ["metric (eval split)", "candidate"] + (["baseline", "difference"]
                                                     if has_baseline else [])
    shown = [[_e(label), _num(candidate)] + ([_num(baseline), _signed(diff)]
                                             if has_baseline else [])
             for label, candidate, baseline, diff in rows]
    overall = facts["overall"]
    pixels = overall.get("pixels")
    extent = (f"{overall['examples']:,} eval examples, " if overall.get("examples") else "") + (
        f"{pixels:,} pixels" if pixels else "")
    note = ("Pixel accuracy of a class is the share of its true pixels predicted as it; IoU "
            "is TP / (TP + FP + FN).")
    return (f"<h2>Metrics</h2><p class=\"sub\">{_e(extent)}. {note}</p>"
            + _table(header, shown))


def confusion_section(facts: Dict[str, Any]) -> str:
    matrix = facts["overall"]["candidate"].get(features.CONFUSION_MATRIX_NAME)
    if not matrix or len(matrix) != features.NUM_CLASSES ** 2:
        return "<h2>Pixel confusion matrix</h2><p>Not recorded in this evaluation.</p>"
    size = features.NUM_CLASSES
    rows = [matrix[i * size:(i + 1) * size] for i in range(size)]
    return ("<h2>Pixel confusion matrix</h2><p class=\"sub\">Candidate model; rows are the "
            "true class, columns the predicted class; each cell shows the share of its row "
            "(row-normalized) and the pixel count.</p>"
            + svg.heat_map(rows, features.CLASS_NAMES))


def slice_rows(facts: Dict[str, Any], feature: str) -> List[Dict[str, Any]]:
    """The slices of one feature, worst pixel accuracy first."""
    chosen = [s for s in facts["slices"] if s["feature"] == feature
              and s["candidate"].get(features.PIXEL_ACCURACY_NAME) is not None]
    return sorted(chosen, key=lambda s: (s["candidate"][features.PIXEL_ACCURACY_NAME],
                                         str(s["name"])))


def slices_section(facts: Dict[str, Any]) -> str:
    parts = ["<h2>Metrics per slice</h2><p class=\"sub\">Pixel accuracy, sorted worst "
             "first; the dashed line is the whole eval split. After each bar: mean IoU and "
             "the number of eval examples in the slice. The axis starts where the tick labels "
             "say (not always at 0), so that close values still differ.</p>"]
    overall = facts["overall"]["candidate"].get(features.PIXEL_ACCURACY_NAME)
    found = False
    for feature, title in (("species", "By species"), ("breed", "By breed")):
        rows = slice_rows(facts, feature)
        if not rows:
            continue
        found = True
        low = svg.axis_floor([s["candidate"][features.PIXEL_ACCURACY_NAME] for s in rows]
                             + ([overall] if overall is not None else []))
        bars = [(str(s["name"]), s["candidate"][features.PIXEL_ACCURACY_NAME],
                 f"IoU {_num(s['candidate'].get(features.MEAN_IOU_NAME), 3)}"
                 + (f", n={s['examples']}" if s.get("examples") is not None else ""))
                for s in rows]
        parts.append(f"<h3>{title}</h3>")
        parts.append(svg.bar_chart(bars, "pixel accuracy", low=low,
                                   reference=("all", overall) if overall is not None else None))
    if not found:
        parts.append("<p>This evaluation has no per-slice metrics.</p>")
    return "".join(parts)


def history_section(facts: Dict[str, Any]) -> str:
    history = facts.get("history")
    if not history or "loss" not in history:
        return ("<h2>Training curves</h2><p>No training history was recorded for this "
                "model.</p>")
    series = [(name, history[name]) for name in ("loss", "val_loss") if name in history]
    epochs = len(history["loss"])
    final = ", ".join(f"{name} {values[-1]:.4f}" for name, values in series if values)
    return (f"<h2>Training curves</h2><p class=\"sub\">Loss (training, per epoch) and "
            f"validation loss (eval split, after each epoch), as the TF tutorial plots them. "
            f"{epochs} epochs; final {_e(final)}.</p>"
            + svg.line_chart(series, "epoch", "loss (cross-entropy)"))


def legend() -> str:
    return '<p class="legend">Masks:' + "".join(
        f'<span style="background:rgb{colour}"></span>{_e(name)}'
        for name, colour in zip(features.CLASS_NAMES, images.CLASS_COLOURS)) + "</p>"


def samples_section(facts: Dict[str, Any]) -> str:
    samples = facts.get("samples") or {}
    if "error" in samples or not samples:
        return (f"<h2>Sample predictions</h2><p>{_e(samples.get('error', 'none'))}</p>")
    parts = [f"<h2>Sample predictions</h2><p class=\"sub\">Scored {samples['scored']:,} of "
             f"{samples['available']:,} eval examples with the candidate's "
             f"<code>serving_default</code> (mean per-image pixel accuracy "
             f"{_num(samples.get('mean_pixel_accuracy'))}). Each row: input image, true "
             f"mask, predicted mask, and the prediction over the image.</p>", legend()]
    for group, title in (("best", "Best examples"), ("worst", "Worst examples")):
        if not samples.get(group):
            continue
        parts.append(f"<h3>{title} by pixel accuracy</h3>")
        for example in samples[group]:
            name = _e(example["name"])
            parts.append(f'<div class="example"><b>{name}</b>: pixel accuracy '
                         f'{example["pixel_accuracy"]:.3f}, pet share true '
                         f'{example["pet_share_true"]:.1%}, predicted '
                         f'{example["pet_share_predicted"]:.1%}</div><div class="grid">')
            for key, caption in (("input", "input"), ("truth", "true mask"),
                                 ("predicted", "predicted mask"), ("overlay", "overlay")):
                parts.append(f'<figure><img src="{example["images"][key]}" '
                             f'alt="{name}: {caption}"><figcaption>{caption}</figcaption>'
                             f'</figure>')
            parts.append("</div>")
    return "".join(parts)


def data_section(facts: Dict[str, Any]) -> str:
    parts = ["<h2>Data, model and push</h2>"]
    data = facts.get("data")
    if data and data["splits"]:
        rows = [[_e(split)] + [f"{counts[key]:,}" for key in
                               ("listed", "ingested", "repaired", "quarantined")]
                for split, counts in data["splits"].items()]
        parts.append(_table(["split", "listed", "ingested", "of which repaired",
                             "quarantined"], rows))
        if data.get("ingest_report"):
            parts.append(f"<p class=\"sub\">Quarantine list and ingest report: "
                         f"<code>{_e(data['ingest_report'])}</code></p>")
    model = facts.get("model") or {}
    if model:
        weights = model.get("class_weights")
        rows = [["architecture", _e(model.get("architecture", "–"))],
                ["parameters", f"{model.get('parameters', 0):,} "
                               f"({model.get('trainable_parameters', 0):,} trainable)"],
                ["encoder pretrained", _e(model.get("encoder_pretrained", "–"))],
                ["image size", _e(model.get("image_size", "–"))],
                ["class weights", _e(", ".join(f"{w:.3g}" for w in weights)
                                     if weights else "none")],
                ["SavedModel", f"<code>{_e(model.get('path', '–'))}</code>"]]
        parts.append(_table(["model", ""], rows, 2))
    push = facts.get("push")
    if push is None:
        parts.append("<p>Push: unknown.</p>")
    elif push["pushed"]:
        parts.append(f"<p>Pushed as version <b>{_e(push['version'])}</b> to "
                     f"<code>{_e(push['destination'])}</code>.</p>")
    else:
        parts.append("<p>Not pushed: the evaluation did not bless the candidate.</p>")
    return "".join(parts)


def notes_section(facts: Dict[str, Any]) -> str:
    if not facts.get("notes"):
        return ""
    return "<h2>Notes</h2><ul class=\"notes\">" + "".join(
        f"<li>{_e(note)}</li>" for note in facts["notes"]) + "</ul>"


def render(facts: Dict[str, Any]) -> str:
    title = "Evaluation report" + (f": {facts['pipeline_name']}" if facts.get(
        "pipeline_name") else "")
    run = f"run {facts['run_id']}, " if facts.get("run_id") else ""
    body = "".join([
        f"<h1>{_e(title)}</h1><p class=\"sub\">{_e(run)}generated {_e(facts['generated_at'])}"
        f" from <code>{_e(facts['evaluation_uri'])}</code></p>",
        verdict_section(facts), metrics_section(facts), confusion_section(facts),
        slices_section(facts), history_section(facts), samples_section(facts),
        data_section(facts), notes_section(facts)])
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>{body}</body></html>\n")
