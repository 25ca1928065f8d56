"""The report as one self-contained HTML file: inline CSS, inline SVG charts, images as data
URIs. No script, no network: it opens in any browser, offline, and can be mailed as is."""

import html
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

from oxford_pet import measures
from report import images, svg, wording
from report.wording import MODEL_SIZE, NATIVE_SIZE, RESOLUTIONS, describe_metric
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
.notes li{color:#6a4b00}.pair{display:flex;flex-wrap:wrap;gap:28px}
.charts{display:flex;flex-wrap:wrap;gap:6px 18px}.chart{margin:0}
.chart figcaption{font-size:.85em;color:#444}
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


def verdict_banner(facts: Dict[str, Any]) -> Tuple[str, str]:
    """The verdict in one sentence (blessed or not, pushed or not) and its CSS class."""
    blessed = facts["verdict"]["blessed"]
    if blessed is True:
        banner, css = "Blessed: the candidate passed every threshold.", "blessed"
    elif blessed is False:
        banner, css = "Not blessed: the candidate failed a threshold (below).", "rejected"
    else:
        banner, css = "No blessing recorded (no thresholds, or the blessing is unknown).", \
            "unknown"
    push = facts.get("push")
    if push and push["pushed"]:
        banner += (f" Pushed as version {push['version']}." if push.get("new", True) else
                   f" Already version {push['version']} (pushed by an earlier run).")
    elif push is not None:
        banner += " Not pushed."
    return banner, css


def verdict_section(facts: Dict[str, Any]) -> str:
    verdict = facts["verdict"]
    banner, css = verdict_banner(facts)
    rows = []
    for threshold in verdict["thresholds"]:
        state = threshold["passed"]
        result = ('<span class="pass">pass</span>' if state else
                  '<span class="skip">not checked</span>' if state is None else
                  '<span class="fail">FAIL</span>')
        shown = (_signed(threshold["value"]) if threshold["kind"] == "change"
                 else _num(threshold["value"]))
        note = wording.threshold_note(threshold)
        rows.append([_e(threshold["metric"]), _e(threshold["kind"]),
                     _e(wording.bound_text(threshold)),
                     _e(wording.slices_text(threshold["slices"])), shown,
                     result + (f' <span class="skip">{_e(note)}</span>' if note else "")])
    parts = [f'<div class="verdict {css}">{_e(banner)}</div>']
    gate = gate_text(facts)
    if gate:
        parts.append(f"<p>{_e(gate)}</p>")
    if rows:
        parts.append(_table(["metric", "threshold", "bound", "checked on", "value (all)",
                             "result"], rows, 4))
    if verdict["failures"]:
        parts.append("<p>TFMA's validation failures:</p><ul>" + "".join(
            f"<li>{_e(wording.failure_text(failure))}</li>" for failure in verdict["failures"])
            + "</ul>")
    if verdict.get("baseline_uri"):
        parts.append(f"<p>Compared with the baseline model (the latest blessed one): "
                     f"<code>{_e(verdict['baseline_uri'])}</code></p>")
    else:
        parts.append("<p>No baseline model: no other model had been blessed before this "
                     "run, so only the value thresholds applied.</p>")
    if verdict.get("candidate_uri"):
        parts.append(f"<p class=\"sub\">Candidate model: <code>{_e(verdict['candidate_uri'])}"
                     f"</code></p>")
    return "<h2>Verdict</h2>" + "".join(parts)


def gate_metrics(facts: Dict[str, Any]) -> List[str]:
    """The metrics whose thresholds decide the blessing (older facts: pixel accuracy)."""
    verdict = facts["verdict"]
    if "gate" in verdict:
        return list(verdict["gate"])
    return sorted({threshold["metric"] for threshold in verdict["thresholds"]})


def resolution_name(resolution: str, facts: Dict[str, Any]) -> str:
    """'model input (64×64)' or "each image's own size"."""
    if resolution == NATIVE_SIZE:
        return "each image's own size"
    size = (facts.get("model") or {}).get("image_size")
    return f"model input ({size}×{size})" if size else "model input (S×S)"


def gate_text(facts: Dict[str, Any]) -> str:
    """One sentence: which metric gated, at which resolution, over which classes."""
    parts = []
    for name in gate_metrics(facts):
        described = describe_metric(name)
        parts.append(f"{name}: {described['label']} at "
                     f"{resolution_name(described['resolution'], facts)}, "
                     f"{described['classes']}")
    return ("The push is gated on " + "; and on ".join(parts) + ".") if parts else ""


# The headline rows: (model-size metric or None, own-size metric or None), model size first.
HEADLINE = [(features.PIXEL_ACCURACY_NAME, features.NATIVE_PIXEL_ACCURACY_NAME),
            (features.MEAN_IOU_NAME, features.NATIVE_MEAN_IOU_NAME)] + [
    (features.class_metric_name(name, kind), features.class_metric_name(name, kind, True))
    for name in features.CLASS_NAMES for kind in features.CLASS_METRIC_KINDS] + [
    (None, features.FOREGROUND_IOU_NAME)]


def metric_rows(facts: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One row per figure: {"label", "classes", MODEL_SIZE: cell, NATIVE_SIZE: cell}, a cell
    {"metric", "candidate", "baseline", "diff", "gate"} or None where a figure has no such
    resolution (or this evaluation did not record it: an older one has no native metrics)."""
    overall = facts["overall"]
    gated = set(gate_metrics(facts))
    rows = []
    for names in HEADLINE:
        row: Dict[str, Any] = {}
        for resolution, key in zip((MODEL_SIZE, NATIVE_SIZE), names):
            candidate = overall["candidate"].get(key) if key else None
            baseline = overall["baseline"].get(key) if key else None
            diff = overall["diff"].get(key) if key else None
            if diff is None and candidate is not None and baseline is not None:
                diff = candidate - baseline
            row[resolution] = None if candidate is None and baseline is None else {
                "metric": key, "candidate": candidate, "baseline": baseline, "diff": diff,
                "gate": key in gated}
            if key and "label" not in row:
                row.update({k: v for k, v in describe_metric(key).items()
                            if k in ("label", "classes")})
        if row[MODEL_SIZE] or row[NATIVE_SIZE]:
            rows.append(row)
    return rows


def has_baseline(rows: List[Dict[str, Any]]) -> bool:
    return any(row[r] and row[r]["baseline"] is not None for row in rows
               for r in (MODEL_SIZE, NATIVE_SIZE))


def metrics_section(facts: Dict[str, Any]) -> str:
    rows = metric_rows(facts)
    baseline = has_baseline(rows)
    columns = ["candidate"] + (["baseline", "difference"] if baseline else [])

    def cells(cell: Optional[Dict[str, Any]]) -> List[str]:
        if cell is None:
            return ['<span class="skip">not at this size</span>'] + [""] * (len(columns) - 1)
        value = _num(cell["candidate"])
        if cell["gate"]:
            value = f'<b title="gates the push">{value} (gate)</b>'
        return [value] + ([_num(cell["baseline"]), _signed(cell["diff"])] if baseline else [])

    groups = "".join(f'<th colspan="{len(columns)}">at {_e(resolution_name(r, facts))}</th>'
                     for r in (MODEL_SIZE, NATIVE_SIZE))
    head = ("<tr><th></th><th></th>" + groups + "</tr><tr><th>metric (eval split)</th>"
            "<th>classes</th>" + "".join(f"<th>{_e(c)}</th>" for c in columns) * 2 + "</tr>")
    body = "".join(
        "<tr>" + f"<td>{_e(row['label'])}</td><td>{_e(row['classes'])}</td>" + "".join(
            f'<td class="num">{cell}</td>' for cell in cells(row[MODEL_SIZE])
            + cells(row[NATIVE_SIZE])) + "</tr>" for row in rows)
    overall = facts["overall"]
    extent = [f"{overall['examples']:,} eval examples"] if overall.get("examples") else []
    if overall.get("pixels"):
        extent.append(f"{overall['pixels']:,} pixels at the model's input size")
    if overall.get("native_pixels"):
        extent.append(f"{overall['native_pixels']:,} at their own sizes")
    note = (f"Two resolutions side by side. Model input: {RESOLUTIONS[MODEL_SIZE]}. Own size: "
            f"{RESOLUTIONS[NATIVE_SIZE]}. 3 classes: pet, background, border (the trimap's 1, "
            f"2, 3); a class's pixel accuracy is its recall, IoU is TP / (TP + FP + FN). Pixels "
            f"are summed over the eval images before each ratio, so at their own sizes larger "
            f"images weigh more. Compare 3-class results reported at the images' own "
            f"resolution with the own-size column, results at a model's input size (the TF "
            f"tutorial's accuracy) with the model-input column, 2-class (binary) results with "
            f"foreground IoU.")
    return (f"<h2>Metrics</h2><p class=\"sub\">{_e(', '.join(extent))}.</p>"
            f"<p class=\"sub\">{_e(note)}</p><table>{head}{body}</table>")


def confusion_section(facts: Dict[str, Any]) -> str:
    size = features.NUM_CLASSES
    parts = ["<h2>Pixel confusion matrices</h2><p class=\"sub\">Candidate model, "
             f"{_e(describe_metric(features.CONFUSION_MATRIX_NAME)['classes'])}; rows are the "
             "true class, columns the predicted class; each cell shows the share of its row "
             "(row-normalized) and the pixel count.</p>"]
    maps = []
    for name, resolution in ((features.CONFUSION_MATRIX_NAME, MODEL_SIZE),
                             (features.NATIVE_CONFUSION_MATRIX_NAME, NATIVE_SIZE)):
        matrix = facts["overall"]["candidate"].get(name)
        if matrix and len(matrix) == size ** 2:
            maps.append(f"<div><h3>At {_e(resolution_name(resolution, facts))}</h3>"
                        + svg.heat_map([matrix[i * size:(i + 1) * size] for i in range(size)],
                                       features.CLASS_NAMES, cell=90) + "</div>")
    parts.append(f'<div class="pair">{"".join(maps)}</div>' if maps else
                 "<p>Not recorded in this evaluation.</p>")
    return "".join(parts)


def slice_metric(facts: Dict[str, Any]) -> str:
    """The metric the slice charts show: the (first) gate metric where the slices have it,
    else pixel accuracy at the model's input size."""
    for name in gate_metrics(facts):
        if any(name in s["candidate"] for s in facts["slices"]):
            return name
    return features.PIXEL_ACCURACY_NAME


def slice_rows(facts: Dict[str, Any], feature: str,
               metric: Optional[str] = None) -> List[Dict[str, Any]]:
    """The slices of one feature, worst first by `metric` (default: `slice_metric`)."""
    metric = metric or slice_metric(facts)
    chosen = [s for s in facts["slices"] if s["feature"] == feature
              and s["candidate"].get(metric) is not None]
    return sorted(chosen, key=lambda s: (s["candidate"][metric], str(s["name"])))


def slices_section(facts: Dict[str, Any]) -> str:
    metric = slice_metric(facts)
    described = describe_metric(metric)
    mean_iou = (features.NATIVE_MEAN_IOU_NAME if described["resolution"] == NATIVE_SIZE
                else features.MEAN_IOU_NAME)
    parts = [f"<h2>Metrics per slice</h2><p class=\"sub\">{_e(described['label'])} "
             f"({_e(metric)}) at {_e(resolution_name(described['resolution'], facts))}, "
             f"{_e(described['classes'])}, sorted worst first; the dashed line is the whole "
             f"eval split. After each bar: mean IoU at the same size and the number of eval "
             f"examples in the slice. The axis starts where the tick labels say (not always at "
             f"0), so that close values still differ.</p>"]
    overall = facts["overall"]["candidate"].get(metric)
    found = False
    for feature, title in (("species", "By species"), ("breed", "By breed")):
        rows = slice_rows(facts, feature, metric)
        if not rows:
            continue
        found = True
        low = svg.axis_floor([s["candidate"][metric] for s in rows]
                             + ([overall] if overall is not None else []))
        bars = [(str(s["name"]), s["candidate"][metric],
                 f"IoU {_num(s['candidate'].get(mean_iou), 3)}"
                 + (f", n={s['examples']}" if s.get("examples") is not None else ""))
                for s in rows]
        parts.append(f"<h3>{title}</h3>")
        parts.append(svg.bar_chart(bars, described["label"], low=low,
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
    phases = history.get("phase") or []
    tuned = [index + 1 for index, phase in enumerate(phases) if phase > 1]
    fine_tune = (f" Epochs {tuned[0]}–{tuned[-1]} fine-tuned the encoder (unfrozen, BatchNorm in "
                 f"inference mode, lower learning rate); the loss may jump where the optimizer "
                 f"restarts." if tuned else "")
    validated = wording.validation_text(facts.get("model"))
    return (f"<h2>Training curves</h2><p class=\"sub\">Loss (training, per epoch) and "
            f"validation loss ({_e(validated)}, at the model's input size), as the TF "
            f"tutorial plots them. {epochs} epochs; final "
            f"{_e(final)}.{_e(fine_tune)}</p>"
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
             f"<code>serving_default</code>, at {_e(resolution_name(MODEL_SIZE, facts))} "
             f"(mean per-image pixel accuracy, 3 classes: "
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
        rows = [[_e(split)] + [f"{counts.get(key, 0):,}" for key in
                               ("listed", "ingested", "repaired", "constant", "quarantined")]
                for split, counts in data["splits"].items()]
        parts.append(_table(["split", "listed", "ingested", "of which repaired",
                             "of which nearly constant", "quarantined"], rows))
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
                ["fine-tuning", _e(fine_tune_text(model))],
                ["class weights", _e(", ".join(f"{w:.3g}" for w in weights)
                                     if weights else "none")],
                ["SavedModel", f"<code>{_e(model.get('path', '–'))}</code>"]]
        parts.append(_table(["model", ""], rows, 2))
    push = facts.get("push")
    if push is None:
        parts.append("<p>Push: unknown.</p>")
    elif push["pushed"] and not push.get("new", True):
        parts.append(f"<p>Already version <b>{_e(push['version'])}</b>, pushed by an earlier "
                     f"run to <code>{_e(push['destination'])}</code>: nothing pushed now.</p>")
    elif push["pushed"]:
        parts.append(f"<p>Pushed as version <b>{_e(push['version'])}</b> to "
                     f"<code>{_e(push['destination'])}</code>.</p>")
    else:
        parts.append("<p>Not pushed: the evaluation did not bless the candidate.</p>")
    return "".join(parts)


def data_checks_section(facts: Dict[str, Any]) -> str:
    """What ingest measured of the images, per split and for the serving model's data (the
    drift baseline), as ranges; and what the data gate found and did."""
    checks = facts.get("data_checks")
    if not checks:
        return ""
    parts = ["<h2>Data checks: what the images look like</h2>",
             "<p class=\"sub\">Per measured feature: the 10th to 90th percentile (bar), the "
             "median (tick) and the extremes (line), from TFDV's statistics.</p>"]
    findings = checks.get("findings") or []
    if findings:
        parts.append("<ul>" + "".join(
            f"<li><b>{_e(f.get('decision', ''))}</b>: {_e(f['sentence'])}</li>"
            for f in findings) + "</ul>")
    else:
        against = checks.get("baseline")
        parts.append("<p>No skew between train and eval" + (
            f", no drift from span {_e(against.get('span'))} (served as version "
            f"{_e(against.get('version'))})" if against else
            " (drift: no earlier span's data to compare with)" if checks.get("span") is not None
            else "") + ".</p>")
    series = [("train", checks["splits"].get("train", {})), ("eval", checks["splits"].get(
        "eval", {}))]
    if checks.get("baseline") and checks["baseline"].get("train"):
        series.append((f"span {checks['baseline'].get('span')} train",
                       checks["baseline"]["train"]))
    cells = []
    for measure in measures.MEASURES:
        rows = [(name, found[measure.key]["deciles"], found[measure.key]["median"])
                for name, found in series if measure.key in found]
        chart = svg.range_chart(rows, measure.unit)
        if chart:
            cells.append(f'<figure class="chart"><figcaption>{_e(measure.words)}</figcaption>'
                         f"{chart}</figure>")
    parts.append('<div class="charts">' + "".join(cells) + "</div>")
    return "".join(parts)


def fine_tune_text(model: Dict[str, Any]) -> str:
    """What model_info.json says about fine-tuning: done, asked for but not done (why), none."""
    plan = model.get("fine_tune")
    if not plan:
        return "none"
    if not plan.get("ran"):
        return f"{plan['epochs']} epochs asked for, none done: {plan.get('reason', '')}"
    return (f"{plan['epochs']} epochs at learning rate {plan['learning_rate']:g} after "
            f"{model.get('epochs', '?')} with the encoder frozen (encoder unfrozen, BatchNorm in "
            f"inference mode)")


def notes_section(facts: Dict[str, Any]) -> str:
    notes = wording.notes(facts)
    if not notes:
        return ""
    return "<h2>Notes</h2><ul class=\"notes\">" + "".join(
        f"<li>{_e(note)}</li>" for note in notes) + "</ul>"


def render(facts: Dict[str, Any]) -> str:
    title = "Evaluation report" + (f": {facts['pipeline_name']}" if facts.get(
        "pipeline_name") else "")
    run = f"run {facts['run_id']}, " if facts.get("run_id") else ""
    body = "".join([
        f"<h1>{_e(title)}</h1><p class=\"sub\">{_e(run)}generated {_e(facts['generated_at'])}"
        f" from <code>{_e(facts['evaluation_uri'])}</code></p>",
        verdict_section(facts), metrics_section(facts), confusion_section(facts),
        slices_section(facts), history_section(facts), samples_section(facts),
        data_section(facts), data_checks_section(facts), notes_section(facts)])
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body>{body}</body></html>\n")
