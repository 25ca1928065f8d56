"""The runner on a disk that fills during the run, for real: the work directory is a small tmpfs
(root mounts it for the test), the Trainer's export does not fit, the run stops with one plain
line; the tmpfs is then enlarged (space freed) and the same command goes on from there."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = "24m"  # the examples fit; a 64 px MobileNetV2 U-Net's export (about 26 MB) does not
LARGE = "400m"


def _mount(path, *options) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(path)],
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from oxford_pet import demo

    base = tmp_path_factory.mktemp("diskfull")
    data_dir, work = str(base / "data"), base / "work"
    work.mkdir()
    demo.make_demo_data(data_dir, count=8, seed=2, min_size=64, max_size=80)
    mounted = _mount(work, f"size={SMALL}")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    command = [sys.executable, os.path.join(REPO, "local_runner.py"), "--data-dir", data_dir,
               "--work-dir", str(work), "--image-size", "64", "--epochs", "1",
               "--batch-size", "4", "--encoder-weights", "none", "--min-pixel-accuracy", "0"]
    try:
        full = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=900)
        subprocess.run(["mount", "-o", f"remount,size={LARGE}", str(work)], check=True)
        rerun = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=900)
        from pipeline import run_summary

        summary = run_summary.summarize(str(work / "pipeline_root" / "metadata.sqlite"),
                                        "pet-segmentation")
        yield dict(full=full, rerun=rerun, work=str(work), summary=summary)
    finally:
        subprocess.run(["umount", "-l", str(work)], check=False)


def test_the_full_disk_stops_the_run_in_one_plain_line(runs):
    full, work = runs["full"], runs["work"]
    assert full.returncode == 1, full.stdout[-2000:] + full.stderr[-2000:]
    errors = [line for line in full.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, full.stderr
    assert errors[0].startswith(f"error: the pipeline stopped: the disk is full: the filesystem "
                                f"at {work} ")
    assert "free of 24.0 MiB" in errors[0]
    assert "Traceback" not in full.stderr + full.stdout and "[Errno" not in full.stderr
    assert len(full.stderr.strip().splitlines()) <= 5, full.stderr
    assert "Component Trainer failed" in full.stdout


def test_after_space_is_freed_the_same_command_goes_on(runs):
    rerun, summary = runs["rerun"], runs["summary"]
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    for node_id in ("OxfordPetExampleGen", "StatisticsGen", "Transform"):
        assert summary.component(node_id).state == "CACHED", node_id
    assert summary.component("Trainer").state == "COMPLETE"
    assert summary.pushed_version == "1"
