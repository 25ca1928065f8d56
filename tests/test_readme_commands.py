"""What README.md shows, runs as written.

Every command in README's shell blocks is claimed by the test that runs it (the
`readme_command` marker, tests/readme.py): `test_every_readme_command_is_claimed` fails when
README shows a command no test claims, or a test claims one README no longer shows. The claimed
commands run in bash exactly as written, from a fresh copy of the repository, with small sizes
only appended as their own documented flags. Most of them use what README's demo
(`demo_command_run`, conftest.py) wrote into that copy's `workdir/`.

Commands of sections that other work owns right now (Deploy to Vertex AI) are claimed
`help_only` here: their program runs with `--help`. To run one for real, move its claim to the
test that runs it with `readme.run(...)` and drop it from HELP_ONLY below.
"""

import glob
import http.server
import json
import os
import re
import threading

import pytest

from tests import readme
from tests.conftest import DEMO_COMMAND, DEMO_FLAGS

SMALL_RUN = ("--image-size", "64", "--epochs", "1", "--batch-size", "4",
             "--encoder-weights", "none", "--min-pixel-accuracy", "0",
             "--report-max-examples", "4")
TEST_FILES = sorted(glob.glob(os.path.join(readme.REPO, "tests", "*.py")))

ENSURE_ENV = "ENV=$(scripts/ensure_env.sh)"
RUNNER_HELP = "$ENV/bin/python local_runner.py --help"
OFFICIAL = "$ENV/bin/python local_runner.py"
TFDS = "$ENV/bin/python local_runner.py --tfds"
DEMO_VARIANT = "$ENV/bin/python local_runner.py --demo --epochs 3 --image-size 96"
MAKE_PETS = "$ENV/bin/python -m oxford_pet make-demo-data workdir/pets --count 200 --seed 1"
DATA_DIR = "$ENV/bin/python local_runner.py --data-dir workdir/pets"
LIST = "$ENV/bin/python -m components.model_versions list workdir/serving/pet_unet"
ROLLBACK = "$ENV/bin/python -m components.model_versions rollback workdir/serving/pet_unet 1"
REPORT_ROOT = ("$ENV/bin/python -m report --pipeline-root workdir/pipeline_root "
               "--output workdir/report")
REPORT_EVALUATION = ("$ENV/bin/python -m report --evaluation-dir "
                     "workdir/pipeline_root/Evaluator/evaluation/9 --output workdir/report")
PREDICT = "$ENV/bin/python predict.py my-photos/ rex.jpg --output predictions/"


# ---- the claims ----

def test_every_readme_command_is_claimed():
    claims = readme.claims_in(TEST_FILES)
    shown = readme.commands()
    unclaimed = [command for command in shown if command.text not in claims]
    assert not unclaimed, "README.md shows commands no test runs:\n" + "\n".join(
        f"  README.md:{c.line} ({c.section}): {c.text!r}\n    claim it on the test that runs "
        f"it: @pytest.mark.readme_command({c.text!r}) and run it with tests/readme.py run()"
        for c in unclaimed)
    stale = sorted(set(claims) - {command.text for command in shown})
    assert not stale, "tests claim commands README.md does not show (any more): " + "; ".join(
        f"{text!r} ({', '.join(c['file'] + ':' + str(c['line']) for c in claims[text])})"
        for text in stale)


def test_readme_commands_are_read_as_a_shell_reads_them(tmp_path):
    """Continuation lines joined, comments dropped, only shell blocks; and the claim check
    sees a command added to README that nothing claims."""
    fake = tmp_path / "README.md"
    fake.write_text("# T\n\n## Run\n\n```bash\n# a comment line\nA=$(x)   # set\n"
                    "$ENV/bin/python run.py --a 1 \\\n    --b '# not a comment'\n\n```\n\n"
                    "```\nnot a command\n```\n\n## Other\n\n```sh\nmake it\n```\n")
    found = readme.commands(str(fake))
    assert [(c.text, c.line, c.section) for c in found] == [
        ("A=$(x)", 7, "Run"), ("$ENV/bin/python run.py --a 1 --b '# not a comment'", 8, "Run"),
        ("make it", 20, "Other")]
    claims = {"A=$(x)": [{}], "make it": [{}]}
    assert [c.text for c in found if c.text not in claims] == [found[1].text]
    assert readme.program_of("$ENV/bin/python -m deploy.vertex submit --template x") == \
        "$ENV/bin/python -m deploy.vertex submit"
    assert readme.program_of(readme.commands()[0].text) == "scripts/demo.sh"


# ---- The two commands ----

@pytest.mark.e2e
@pytest.mark.readme_command(DEMO_COMMAND)
def test_the_demo_trains_evaluates_and_pushes(demo_command_run):
    run = demo_command_run
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Demo data: generating 16 images" in run.stdout
    assert f"Pushed version 1 to {os.path.join(run.work_dir, 'serving', 'pet_unet', '1')}" \
        in run.stdout
    assert os.path.isfile(os.path.join(run.work_dir, "serving", "pet_unet", "1",
                                       "saved_model.pb"))
    for component in ("OxfordPetExampleGen", "Transform", "Trainer", "Evaluator",
                      "VersionedPusher", "EvaluationReport"):
        assert re.search(rf"^Component {component} finished in [\d.]+ s$", run.stdout,
                         re.M), component  # ran, not cached
    assert re.search(r"^Report: \S+report\.html", run.stdout, re.M)


@pytest.mark.readme_command("scripts/test.sh")
def test_the_test_command_collects_the_suite():
    """The test command as README shows it, with pytest's own flags (they go to pytest): it
    builds or finds the environment and collects this very module."""
    result = readme.run("scripts/test.sh", "--collect-only", "-q", "-p", "no:cacheprovider",
                        "tests/test_readme_commands.py", cwd=readme.REPO, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "test_readme_commands.py::test_every_readme_command_is_claimed" in result.stdout


# ---- Running it yourself ----

@pytest.mark.readme_command(ENSURE_ENV)
def test_ensure_env_prints_this_environment():
    result = readme.run(ENSURE_ENV, cwd=readme.REPO, env={"ENV": ""}, then='printf %s "$ENV"')
    assert result.returncode == 0, result.stderr
    assert os.path.realpath(result.stdout.strip()) == os.path.realpath(readme.environment_dir())


@pytest.mark.readme_command(RUNNER_HELP)
def test_runner_help():
    result = readme.run(RUNNER_HELP, cwd=readme.REPO, timeout=300)
    assert result.returncode == 0 and result.stdout.startswith("usage: python local_runner.py")
    assert "--span-pattern" in result.stdout and "Exit codes" in result.stdout


class _ShortFiles(http.server.BaseHTTPRequestHandler):
    """A mirror that serves 1,000 bytes for every archive: not the published ones."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = b"\x1f\x8b" + bytes(998)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.readme_command(OFFICIAL)
def test_the_official_archives_are_downloaded_and_refused_when_wrong(tmp_path):
    """No network here: the command runs against a local mirror (`--base-url`, documented)
    whose files are not the published archives; it downloads, finds the size wrong, keeps the
    partial file for a resume, and says what to do. Nothing else starts."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ShortFiles)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/pets/"
        result = readme.run(OFFICIAL, "--work-dir", str(tmp_path / "work"), "--base-url", url,
                            cwd=readme.REPO, timeout=300)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"Downloading {url}images.tar.gz" in result.stderr
    assert "failed after 1000 bytes" in result.stderr and "next run resumes it" in result.stderr
    assert (tmp_path / "work" / "downloads" / "archives" / "images.tar.gz.part").stat() \
        .st_size == 1000
    assert not (tmp_path / "work" / "pipeline_root" / "metadata.sqlite").exists()


def _evidence(stderr: str):
    """The quarantine list a stopped ingest names, and its folder's three files."""
    match = re.search(r"The reasons are in (\S+quarantine\.jsonl);", stderr)
    assert match, stderr[-3000:]
    path = match.group(1)
    folder = os.path.dirname(path)
    outcomes = [json.loads(line) for line in open(os.path.join(folder, "outcomes.jsonl"))]
    quarantined = [json.loads(line) for line in open(path)]
    report = json.load(open(os.path.join(folder, "ingest_report.json")))
    return path, outcomes, quarantined, report


@pytest.mark.e2e
@pytest.mark.readme_command(TFDS)
def test_tfds_source_checks_the_records_and_keeps_the_evidence_of_a_stop(tmp_path,
                                                                        tfds_prepared):
    """A TFDS data directory (`--tfds-data-dir`) where TFDS's own builders prepared
    oxford_iiit_pet 3.2.0 and 4.0.0, the tutorial's 3.x asked for (`--tfds-version`), its
    shards with damaged records added: ingest says which version it reads and where,
    quarantines them with plain reasons, stops (5 of 12 train records unusable), and the list
    it names is there after the run, complete."""
    from tests.test_ingest import _tfds_dir

    tfds_root = tmp_path / "tensorflow_datasets"
    _tfds_dir(tfds_root, tfds_prepared, "3.2.0", damage=True)
    _tfds_dir(tfds_root, tfds_prepared, "4.0.0")
    result = readme.run(TFDS, "--tfds-data-dir", str(tfds_root), "--tfds-version", "3.*.*",
                        "--work-dir", str(tmp_path / "work"), *SMALL_RUN, cwd=readme.REPO)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert (f"Data: TFDS oxford_iiit_pet 3.2.0 in {tfds_root}/oxford_iiit_pet/3.2.0: train 6 "
            "examples (TFDS's 'train'), eval 6 (TFDS's 'test'); also prepared: 4.0.0 "
            "(--tfds-version)") in result.stdout
    assert "ingest stopped: train: 5 of 12 samples quarantined" in result.stderr
    path, outcomes, quarantined, report = _evidence(result.stderr)
    assert path.startswith(str(tmp_path / "work" / "pipeline_root" / "OxfordPetExampleGen"))
    assert len(outcomes) == 12 + 7 and len(quarantined) == 6
    assert report["splits"]["train"]["repaired"] == 1
    _nothing_after_ingest(str(tmp_path / "work" / "pipeline_root"))


def _nothing_after_ingest(pipeline_root: str) -> None:
    from pipeline import run_summary

    summary = run_summary.summarize(os.path.join(pipeline_root, "metadata.sqlite"),
                                    "pet-segmentation")
    assert summary.component("OxfordPetExampleGen").state == "FAILED"
    assert summary.component("Transform") is None and summary.component("Trainer") is None


@pytest.mark.e2e
@pytest.mark.readme_command(MAKE_PETS, DATA_DIR)
def test_a_dataset_with_a_broken_file_stops_with_the_evidence_kept(tmp_path):
    """The two commands in a fresh copy of the repository (8 images: `--count`, documented);
    one eval image then breaks (a download cut to 0 bytes): 1 of 4 eval samples quarantined is
    more than the default 5%, so ingest stops before Transform, and the quarantine list it names
    survives TFX's cleanup of the failed execution."""
    from oxford_pet import layout

    repo = readme.sandbox(tmp_path)
    made = readme.run(MAKE_PETS, "--count", "8", "--min-size", "64", "--max-size", "96",
                      cwd=repo)
    assert made.returncode == 0 and "Wrote 8 images" in made.stdout, made.stderr
    data_dir = os.path.join(repo, "workdir", "pets")
    broken = layout.read_list(os.path.join(data_dir, layout.SPLIT_LISTS["eval"]))[0]
    open(layout.image_path(data_dir, broken.name), "wb").close()
    result = readme.run(DATA_DIR, *SMALL_RUN, cwd=repo)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "ingest stopped: eval: 1 of 4 samples quarantined, more than the limit of 5.0%" \
        in result.stderr
    path, outcomes, quarantined, _ = _evidence(result.stderr)
    assert path.startswith(os.path.join(repo, "workdir", "pipeline_root", "OxfordPetExampleGen",
                                        "stopped_ingest"))
    assert len(outcomes) == 8
    assert quarantined == [{"name": broken.name, "split": "eval", "reason":
                            f"image {layout.image_path(data_dir, broken.name)} is an empty "
                            "file (0 bytes)"}]
    _nothing_after_ingest(os.path.join(repo, "workdir", "pipeline_root"))


# ---- what a user does after the demo, on its workdir/ ----

@pytest.fixture(scope="module")
def after_the_demo(demo_command_run, jpeg_and_png):
    """README's commands that use the demo's results, in the order a user would run them,
    in the demo's copy of the repository: {name: finished process}."""
    repo = os.path.dirname(demo_command_run.work_dir)
    assert demo_command_run.returncode == 0, demo_command_run.stderr[-3000:]
    jpeg, png = jpeg_and_png
    os.makedirs(os.path.join(repo, "my-photos"))
    with open(os.path.join(repo, "my-photos", "cat.png"), "wb") as handle:
        handle.write(png)
    with open(os.path.join(repo, "rex.jpg"), "wb") as handle:
        handle.write(jpeg)
    evaluations = sorted(glob.glob(os.path.join(repo, "workdir", "pipeline_root", "Evaluator",
                                                "evaluation", "*")))
    results = {"evaluations": [os.path.basename(path) for path in evaluations]}
    results["rerun"] = readme.run(DEMO_VARIANT, *DEMO_FLAGS, cwd=repo)
    for name, command in (("list", LIST), ("report", REPORT_ROOT),
                          ("report_evaluation", REPORT_EVALUATION), ("predict", PREDICT),
                          ("rollback", ROLLBACK), ("list_after", LIST)):
        results[name] = readme.run(command, cwd=repo)
    return repo, results


@pytest.mark.e2e
@pytest.mark.readme_command(DEMO_VARIANT)
def test_the_demo_rerun_reuses_every_result(after_the_demo):
    """Same settings as the demo (its small sizes appended as flags): every component is
    CACHED (the Evaluator's baseline leaves out the candidate itself, so it finds what the
    first run found), the demo data is not generated again, nothing new is pushed."""
    _, results = after_the_demo
    rerun = results["rerun"]
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert "(already generated)" in rerun.stdout
    for component in ("OxfordPetExampleGen", "StatisticsGen", "Transform", "Trainer",
                      "Evaluator", "VersionedPusher", "EvaluationReport"):
        assert re.search(rf"^Component {component} finished in [\d.]+ s \(cached\)$",
                         rerun.stdout, re.M), component
    assert "Nothing pushed: this model already is version 1 (" in rerun.stdout


@pytest.mark.e2e
@pytest.mark.readme_command(LIST, ROLLBACK)
def test_model_versions_list_and_rollback(after_the_demo):
    repo, results = after_the_demo
    for name in ("list", "rollback", "list_after"):
        assert results[name].returncode == 0, (name, results[name].stderr)
    assert re.search(r"^ +1  \S+  pixel accuracy", results["list"].stdout, re.M)
    assert "version 1 is now also version 2, the one served" in results["rollback"].stdout
    assert "copy of version 1" in results["list_after"].stdout
    assert os.path.isfile(os.path.join(repo, "workdir", "serving", "pet_unet", "2",
                                       "saved_model.pb"))


@pytest.mark.e2e
@pytest.mark.readme_command(REPORT_ROOT, REPORT_EVALUATION)
def test_the_report_commands(after_the_demo):
    """README's evaluation id is the one the demo's first run gives its Evaluator (a fresh
    metadata store numbers executions the same way every time)."""
    repo, results = after_the_demo
    assert results["evaluations"] == ["9"]  # the demo's (the rerun's comes later)
    for name in ("report", "report_evaluation"):
        assert results[name].returncode == 0, (name, results[name].stderr[-2000:])
    for page in ("report.html", "report.md"):
        assert os.path.getsize(os.path.join(repo, "workdir", "report", page)) > 0


@pytest.mark.e2e
@pytest.mark.readme_command(PREDICT)
def test_predict_as_readme_shows_it(after_the_demo):
    repo, results = after_the_demo
    predict = results["predict"]
    assert predict.returncode == 0, predict.stdout + predict.stderr
    assert "2 of 2 images segmented" in predict.stdout
    out = os.path.join(repo, "predictions")
    assert {"cat.mask.png", "rex.mask.png", "summary.csv"} <= set(os.listdir(out))


# ---- sections owned elsewhere: their commands' --help ----

@pytest.mark.parametrize("claim", [
    pytest.param("compile", id="kubeflow_v2_runner", marks=pytest.mark.readme_command(
        "$ENV/bin/python kubeflow_v2_runner.py --project PROJECT --region us-central1 --image "
        "us-docker.pkg.dev/PROJECT/REPO/petseg:1 --pipeline-root gs://BUCKET/petseg/root "
        "--data-dir gs://BUCKET/petseg/data --serving-dir gs://BUCKET/petseg/serving "
        "--span-pattern 'span-{SPAN}' --warm-start --dataflow-temp-location "
        "gs://BUCKET/petseg/tmp --dataflow-max-workers 8 --vertex-training "
        "--training-machine-type n1-standard-8 --accelerator-type NVIDIA_TESLA_T4 "
        "--accelerator-count 1 --vertex-model pet-unet", help_only=True)),
    pytest.param("submit", id="vertex_submit", marks=pytest.mark.readme_command(
        "$ENV/bin/python -m deploy.vertex submit --template build/pipeline.json --project "
        "PROJECT --region us-central1 --pipeline-root gs://BUCKET/petseg/root "
        "--service-account pipelines@PROJECT.iam.gserviceaccount.com", help_only=True)),
    pytest.param("schedule", id="vertex_schedule", marks=pytest.mark.readme_command(
        "$ENV/bin/python -m deploy.vertex schedule --template build/pipeline.json --project "
        "PROJECT --region us-central1 --pipeline-root gs://BUCKET/petseg/root --cron "
        "'TZ=Europe/Berlin 0 3 * * 1' --service-account "
        "pipelines@PROJECT.iam.gserviceaccount.com", help_only=True)),
])
def test_commands_needing_a_cloud_project_show_their_help(request, claim):
    """Help-only claims (the command's program with --help): the deploy section's commands
    need a Google Cloud project. Every flag the README command uses must be in the help."""
    command = request.node.get_closest_marker("readme_command").args[0]
    result = readme.run_help(command)
    assert result.returncode == 0 and result.stdout.startswith("usage:"), result.stderr[-2000:]
    for option in re.findall(r" (--[a-z-]+)", command):
        assert option in result.stdout, option


@pytest.mark.readme_command(
    "docker build -t us-docker.pkg.dev/PROJECT/REPO/petseg:1 . && docker push "
    "us-docker.pkg.dev/PROJECT/REPO/petseg:1",
    not_run="no Docker engine on these machines; tests/test_dockerfile.py checks the "
            "Dockerfile")
def test_the_image_build_is_claimed_but_not_run():
    """Claimed so the claim check sees it; what can be checked without Docker is
    tests/test_dockerfile.py."""
    assert os.path.isfile(os.path.join(readme.REPO, "Dockerfile"))
