"""The report's short Markdown summary, for a pull request or a chat message: the verdict,
the headline metrics beside the baseline, the weakest slices, the data and the push."""

from typing import Any, Dict, List

from report import render_html, wording
from report.wording import MODEL_SIZE, NATIVE_SIZE, RESOLUTIONS

WORST_SLICES = 3


def _num(value) -> str:
    return "–" if value is None else f"{value:.4f}"


def _signed(value) -> str:
    return "–" if value is None else f"{value:+.4f}"


def render(facts: Dict[str, Any], html_name: str = "report.html") -> str:
    title = facts.get("pipeline_name") or "evaluation"
    lines: List[str] = [f"## Evaluation report: {title}", ""]
    lines += verdict_lines(facts)
    lines += metric_lines(facts)
    lines += rest_lines(facts)
    lines.append(f"\nFull report (charts, sample predictions): `{html_name}`.")
    return "\n".join(lines) + "\n"


def verdict_lines(facts: Dict[str, Any]) -> List[str]:
    """Blessed or not, pushed or not, the baseline, each threshold, the gate."""
    verdict = facts["verdict"]
    push = facts.get("push")
    state = {True: "✅ **Blessed**", False: "❌ **Not blessed**"}.get(
        verdict["blessed"], "**No blessing recorded**")
    pushed = ("push unknown" if not push else "not pushed" if not push["pushed"] else
              f"pushed as version {push['version']} to `{push['destination']}`"
              if push.get("new", True) else
              f"already version {push['version']} (`{push['destination']}`, pushed by an "
              "earlier run)")
    lines = [f"{state}; {pushed}.",
             f"Baseline: `{verdict['baseline_uri']}`" if verdict.get("baseline_uri")
             else "Baseline: none (no model blessed before this run)."]
    if verdict["thresholds"]:
        lines += ["", "| threshold | bound | checked on | value (all) | result |",
                  "| --- | --- | --- | --- | --- |"]
        for threshold in verdict["thresholds"]:
            result = {True: "pass", False: "**FAIL**", None: "not checked"}[threshold["passed"]]
            value = (_signed(threshold["value"]) if threshold["kind"] == "change"
                     else _num(threshold["value"]))
            note = wording.threshold_note(threshold)
            if note and threshold["passed"] is not True:
                result += f" ({note})"
            lines.append(f"| {threshold['metric']} ({threshold['kind']}) | "
                         f"{wording.bound_text(threshold)} | "
                         f"{wording.slices_text(threshold['slices'])} | {value} | {result} |")
    gate = render_html.gate_text(facts)
    return lines + (["", gate] if gate else [])


def metric_lines(facts: Dict[str, Any]) -> List[str]:
    """The headline metrics at both resolutions, beside the baseline's."""
    rows = render_html.metric_rows(facts)
    baseline = render_html.has_baseline(rows)
    sizes = [render_html.resolution_name(r, facts) for r in (MODEL_SIZE, NATIVE_SIZE)]
    lines = ["", f"| metric | classes | at {sizes[0]} | at {sizes[1]} |",
             "| --- | --- | ---: | ---: |"]

    def cell(value) -> str:
        if value is None:
            return "–"
        text = _num(value["candidate"])
        if value["gate"]:
            text = f"**{text}** (gate)"
        if baseline:
            text += f" (baseline {_num(value['baseline'])}, {_signed(value['diff'])})"
        return text

    for row in rows:
        lines.append(f"| {row['label']} | {row['classes']} | {cell(row[MODEL_SIZE])} | "
                     f"{cell(row[NATIVE_SIZE])} |")
    lines.append(f"\nModel input: {RESOLUTIONS[MODEL_SIZE]}. Own size: "
                 f"{RESOLUTIONS[NATIVE_SIZE]}.")
    return lines


def rest_lines(facts: Dict[str, Any]) -> List[str]:
    """The weakest slices, the data, the model, and what the report lacks."""
    lines = []
    metric = render_html.slice_metric(facts)
    for feature in ("species", "breed"):
        worst = render_html.slice_rows(facts, feature, metric)[:WORST_SLICES]
        if worst:
            shown = ", ".join(f"{s['name']} {s['candidate'][metric]:.3f}" for s in worst)
            lines.append(f"\nWorst {feature} by {metric}: {shown}.")
    data = facts.get("data")
    if data and data["splits"]:
        shown = "; ".join(f"{split} {c['ingested']:,} of {c['listed']:,} listed "
                          f"({c['quarantined']:,} quarantined"
                          + (f", {c['constant']:,} nearly constant" if c.get("constant") else "")
                          + ")" for split, c in data["splits"].items())
        lines.append(f"\nData: {shown}.")
    model = facts.get("model") or {}
    if model.get("architecture"):
        lines.append(f"Model: {model['architecture']}, {model.get('parameters', 0):,} "
                     f"parameters, {model.get('image_size')} px; fine-tuning: "
                     f"{render_html.fine_tune_text(model)}.")
    return lines + [f"\n> {note}" for note in wording.notes(facts)]
