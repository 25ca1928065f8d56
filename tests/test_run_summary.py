"""pipeline/run_summary.py metric_lines: what the runner prints about quality (no pipeline run;
tests/test_e2e.py checks it on the shared run's real metrics)."""

from pipeline import run_summary

VALUES = {"pixel_accuracy": 0.954, "mean_iou": 0.8088, "native_pixel_accuracy": 0.9412,
          "native_mean_iou": 0.7911, "border_iou": 0.41, "native_border_iou": 0.3877,
          "foreground_iou": 0.9025}


def _row(lines, label):
    return [line for line in lines if line.strip().startswith(label)][0].split()


def test_both_resolutions_side_by_side_and_the_gate():
    lines = run_summary.metric_lines(VALUES, "native_pixel_accuracy", 128)
    assert "model input 128x128" in lines[0] and "own size" in lines[0]
    assert _row(lines, "pixel accuracy")[-2:] == ["0.9540", "0.9412"]
    assert _row(lines, "mean IoU")[-2:] == ["0.8088", "0.7911"]
    assert _row(lines, "border IoU")[-2:] == ["0.4100", "0.3877"]
    assert _row(lines, "pet IoU")[-2:] == ["–", "–"]  # not recorded: said, not invented
    assert _row(lines, "foreground IoU")[2:4] == ["–", "0.9025"]  # own size only
    assert lines[-1] == ("  gate: native_pixel_accuracy (pixel accuracy at each image's own "
                         "size, 3 classes)")


def test_a_model_size_gate_and_an_evaluation_without_pixel_metrics():
    lines = run_summary.metric_lines(VALUES, "mean_iou", 64)
    assert lines[-1] == ("  gate: mean_iou (mean IoU at model input 64x64, 3 classes, mean of "
                         "per-class IoU)")
    assert run_summary.metric_lines({"example_count": 12.0}, "pixel_accuracy") == []
    assert not run_summary.metric_lines(VALUES)[-1].startswith("  gate")


def test_the_ingest_lines_name_nearly_constant_images(capsys):
    import types

    from pipeline import run_summary

    counts = {"train_listed": 3, "train_ingested": 3, "train_repaired": 1,
              "train_quarantined": 0, "train_constant": 2, "eval_listed": 1,
              "eval_ingested": 1, "eval_repaired": 0, "eval_quarantined": 0}
    examples = types.SimpleNamespace(uri="/root/examples/1", properties=counts)
    run_summary.print_ingest(types.SimpleNamespace(output=lambda node, key: examples))
    out = capsys.readouterr().out
    assert ("Data train: 3 listed = 3 ingested (1 repaired) + 0 quarantined; 2 nearly constant "
            "images: check them") in out
    assert "Data eval: 1 listed = 1 ingested (0 repaired) + 0 quarantined\n" in out
