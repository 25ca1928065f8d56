"""cli/console.py and trainer/short_errors.py: what a command shows, what goes to its log,
and errors shortened to their first lines.

File-descriptor routing is checked in child processes (a few lines of Python each, no TFX), the
way a command runs; one test runs a real LocalDagRunner in this process with a component whose
error message is 100 KB.
"""

import os
import pty
import re
import subprocess
import sys
import textwrap

import pytest

from cli import console, exits
from trainer import short_errors

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The shape of TensorFlow's error for a label out of range (TF 2.16, SparseCategoricalCrossentropy
# in a Keras fit): frames where the op was defined, then the reason with every label value.
TF_LABEL_ERROR = (
    "Graph execution error:\n\nDetected at node sparse_categorical_crossentropy/"
    "SparseSoftmaxCrossEntropyWithLogits defined at (most recent call last):\n"
    + "".join(f'  File "/env/lib/python3.11/site-packages/tf_keras/src/engine/training.py", '
              f"line {1000 + i}, in train_step\n\n" for i in range(15))
    + "Received a label value of 255 which is outside the valid range of [0, 3).  "
      "Label values: " + "1 " * 50000
    + "\n\t [[{{node sparse_categorical_crossentropy/SparseSoftmaxCrossEntropyWithLogits}}]] "
      "[Op:__inference_train_function_496]")


# ---- shortening --------------------------------------------------------------------------------

def test_a_tensorflow_error_keeps_the_node_and_the_reason_without_frames_or_values():
    short = short_errors.shorten(TF_LABEL_ERROR)
    lines = short.splitlines()
    assert lines[0] == "Graph execution error:"
    assert lines[1] == ("Detected at node sparse_categorical_crossentropy/"
                        "SparseSoftmaxCrossEntropyWithLogits")
    assert lines[2].startswith("Received a label value of 255 which is outside the valid range")
    assert lines[2].endswith("…") and len(lines[2]) == short_errors.MAX_LINE_CHARS
    assert lines[3].startswith("[[{{node sparse_categorical_crossentropy")
    assert lines[4] == (f"… ({len(TF_LABEL_ERROR):,} characters in all; "
                        "the whole message is in the log)")
    assert 'File "' not in short and len(short) < 1000
    assert short_errors.is_long(TF_LABEL_ERROR)


def test_a_short_message_stays_as_it_is():
    message = ("ingest stopped: eval: no examples left to evaluate on. The reasons are in "
               "/tmp/root/OxfordPetExampleGen/examples/2/ingest/quarantine.jsonl; fix or remove "
               "those samples, or raise --max-quarantined-fraction.")
    assert short_errors.shorten(message) == message
    assert not short_errors.is_long(message)


def test_many_lines_are_cut_to_the_first_ones():
    message = "\n".join(f"line {i}" for i in range(100))
    short = short_errors.shorten(message)
    assert short.splitlines()[:short_errors.MAX_LINES] == [f"line {i}" for i in range(8)]
    assert short.splitlines()[-1].startswith("… (")
    assert len(short.splitlines()) == short_errors.MAX_LINES + 1


def test_error_lines_name_the_cause_of_a_wrapping_error():
    try:
        try:
            raise ValueError("the real reason\nsecond line")
        except ValueError as error:
            raise RuntimeError() from error
    except RuntimeError as wrapper:
        assert console.error_lines(wrapper, "the run stopped") == [
            "error: the run stopped: ValueError: the real reason", "  second line"]


def test_the_trainer_reraises_a_long_error_shortened_and_a_short_one_as_it_was(caplog):
    import tensorflow as tf

    from trainer import train

    def failing(error):
        def run_fn(fn_args):
            raise error
        return train._shortened_errors(run_fn)

    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        failing(tf.errors.InvalidArgumentError(None, None, TF_LABEL_ERROR))(None)
    assert "Received a label value of 255" in raised.value.message
    assert len(raised.value.message) < 1000 and "in the Trainer's log" in raised.value.message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert TF_LABEL_ERROR[-300:] in caplog.text  # the whole message went to the log first
    short = ValueError("class_weights must be 'auto' or 3 numbers")
    with pytest.raises(ValueError) as raised:
        failing(short)(None)
    assert raised.value is short
    with pytest.raises(ValueError) as raised:  # a long message of another kind keeps its kind
        failing(ValueError("x" * 5000))(None)
    assert len(str(raised.value)) < 1000
    with pytest.raises(RuntimeError, match="^KeyError: 'x"):  # or says which it was
        failing(KeyError("x" * 5000))(None)


# ---- the session, in child processes ---------------------------------------------------------

def _child(tmp_path, body: str, verbose: bool = False, **popen):
    """Runs `body` inside `with console.Session(<log>) as session:` in a child process."""
    log = tmp_path / "logs" / "run.log"
    code = textwrap.dedent("""
        import logging, os, subprocess, sys, warnings
        sys.path.insert(0, {repo!r})
        from cli import console
        with console.Session({log!r}, verbose={verbose}, failure="the test run stopped",
                             hint="a hint") as session:
        {body}
        print("after the session")
        sys.exit(3 if session.error else 0)
    """).format(repo=REPO, log=str(log), verbose=verbose,
                body=textwrap.indent(textwrap.dedent(body), "    "))
    if popen:
        return subprocess.Popen([sys.executable, "-c", code], **popen), log
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    return result, log.read_text(encoding="utf-8")


# Code that runs as an installed package's would (its file name in site-packages).
LIBRARY = '''
    import sysconfig
    library = {}
    exec(compile(
        "import logging, sys\\n"
        "def log_and_print():\\n"
        "    logger = logging.getLogger('lib')\\n"
        "    logger.addHandler(logging.StreamHandler(sys.stdout))\\n"
        "    logger.warning('a library record, its handler on sys.stdout')\\n"
        "    print('Downloading data from a library print')\\n",
        sysconfig.get_paths()["purelib"] + "/fake_library.py", "exec"), library)
'''

NOISY_BODY = LIBRARY + """
    print("own line")
    print("error: an own message", file=sys.stderr)
    logging.getLogger("project").warning("an own warning")
    library["log_and_print"]()
    warnings.warn("a FutureWarning from a library", FutureWarning)
    os.write(2, b"Unable to register cuFFT factory (C++ writing to fd 2)\\n")
    os.write(1, b"C code writing to fd 1\\n")
    with session.step("Transform"):
        subprocess.run([sys.executable, "-c", "import sys; print('Looking in indexes: pip'); "
                        "print('child stderr', file=sys.stderr); "
                        "print('[Transform] a line of a component run as a child'); "
                        "print('noise ' * 50000); "
                        "print('[Transform] its last line')"], check=True)
        os.write(1, b"[Transform] written by C code just before the end line\\n")
"""


def test_the_console_shows_the_projects_lines_and_the_log_keeps_everything(tmp_path):
    result, log = _child(tmp_path, NOISY_BODY)
    assert result.returncode == 0, result.stderr
    log_path = str(tmp_path / "logs" / "run.log")
    shown = [re.sub(r"\d+\.\d s", "N s", line) for line in result.stdout.splitlines()]
    assert shown == [f"Log: {log_path}", "own line", "Component Transform is running",
                     "[Transform] a line of a component run as a child",
                     "[Transform] its last line",  # before the end line: the reader lags
                     "[Transform] written by C code just before the end line",
                     "Component Transform finished in N s", f"Log: {log_path}",
                     "after the session"]
    assert result.stderr.splitlines() == ["error: an own message", "warning: an own warning"]
    for hidden in ("a library record, its handler on sys.stdout", "FutureWarning",
                   "Downloading data from a library print",
                   "Unable to register cuFFT factory", "C code writing to fd 1",
                   "Looking in indexes: pip", "child stderr"):
        assert hidden in log and hidden not in result.stdout + result.stderr, hidden
    for line in result.stdout.splitlines()[:-1] + result.stderr.splitlines():
        assert line in log
    assert "after the session" not in log


def test_an_end_line_waits_for_what_was_written_before_it(tmp_path):
    """A slow reader (a busy machine) still shows a child's lines before the step's end."""
    body = """
        import time
        read_line = session._read_line
        session._read_line = lambda line, index: (time.sleep(0.05), read_line(line, index))
        with session.step("Trainer"):
            subprocess.run([sys.executable, "-c", "for i in range(5): print(f'[Trainer] {i}')"],
                           check=True)
    """
    result, _ = _child(tmp_path, body)
    shown = result.stdout.splitlines()
    assert shown[1:8] == ["Component Trainer is running"] + [f"[Trainer] {i}" for i in range(5)] \
        + [shown[7]] and shown[7].startswith("Component Trainer finished in")


def test_verbose_shows_everything_and_still_logs_it(tmp_path):
    result, log = _child(tmp_path, NOISY_BODY, verbose=True)
    shown = result.stdout + result.stderr
    for line in ("own line", "a library record", "FutureWarning", "Unable to register cuFFT",
                 "C code writing to fd 1", "Looking in indexes: pip", "child stderr",
                 "[Transform] a line of a component run as a child"):
        assert line in shown and line in log, line


def test_an_error_ends_the_output_with_its_first_lines_and_the_log(tmp_path):
    body = f"""
        session.step_started("Trainer")
        raise ValueError({TF_LABEL_ERROR!r})
    """
    result, log = _child(tmp_path, body)
    assert result.returncode == 3  # the code after the `with` ran
    assert re.fullmatch(r"Component Trainer failed after \d+\.\d s",
                        result.stdout.splitlines()[2])
    err = result.stderr.splitlines()
    assert err[0] == "error: the test run stopped: ValueError: Graph execution error:"
    assert err[2].startswith("  Received a label value of 255")
    assert err[-2:] == ["(a hint)", f"Full log: {tmp_path / 'logs' / 'run.log'}"]
    assert len(result.stderr) < 1500 and len(err) <= 10
    assert TF_LABEL_ERROR.splitlines()[-1] in log and "1 " * 50000 in log  # whole, in the log
    assert "Traceback (most recent call last)" in log


def test_tfx_records_become_start_and_end_lines(tmp_path):
    """The records TFX's LocalDagRunner and launcher write, also after TensorFlow saved a
    SavedModel (which sets absl's verbosity to FATAL and back to the verbosity flag's value:
    Transform does, and a level set on absl's logger alone was lost there)."""
    body = """
        from absl import logging as absl_logging
        session.follow_tfx()
        verbosity = absl_logging.get_verbosity()  # as tensorflow/python/trackable/autotrackable.py
        absl_logging.set_verbosity(absl_logging.FATAL)
        absl_logging.set_verbosity(verbosity)
        absl_logging.info("Component %s is running.", "Transform")
        absl_logging.info("A cached execution %d is used.", 7)
        absl_logging.info("Component %s is finished.", "Transform")
        absl_logging.info("Component %s is running.", "Trainer")
        raise RuntimeError("boom")
    """
    result, log = _child(tmp_path, body)
    shown = [re.sub(r"\d+\.\d s", "N s", line) for line in result.stdout.splitlines()]
    assert shown[1:5] == ["Component Transform is running",
                          "Component Transform finished in N s (cached)",
                          "Component Trainer is running", "Component Trainer failed after N s"]
    assert result.stderr.splitlines()[0] == "error: the test run stopped: RuntimeError: boom"
    assert "INFO absl: Component Trainer is running." in log  # the record itself: logged


def test_progress_is_drawn_on_a_terminal_and_nowhere_else(tmp_path):
    body = """
        progress = logging.getLogger(console.PROGRESS_LOGGER)
        progress.info("[Trainer] epoch 1/2 train [#---] 1/4 batches")
        progress.info("[Trainer] epoch 1/2 train [##--] 2/4 batches")
        print("[Trainer] epoch 1/2 (train 1.0 s, validation 0.1 s): loss 0.5")
    """
    primary, secondary = pty.openpty()
    process, log = _child(tmp_path / "tty", body, stdout=secondary, stderr=subprocess.PIPE)
    os.close(secondary)
    drawn = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        drawn += chunk
    process.wait(timeout=60)
    os.close(primary)
    assert process.returncode == 0, process.stderr.read()
    assert (b"\r[Trainer] epoch 1/2 train [#---] 1/4 batches\x1b[K"
            b"\r[Trainer] epoch 1/2 train [##--] 2/4 batches\x1b[K"
            b"\r\x1b[K[Trainer] epoch 1/2 (train 1.0 s") in drawn
    assert "batches" not in log.read_text()  # transient: not for the log

    result, log_text = _child(tmp_path / "pipe", body)  # not a terminal: per-epoch lines only
    assert "batches" not in result.stdout + log_text
    assert "[Trainer] epoch 1/2 (train 1.0 s" in result.stdout


def test_a_session_in_this_process_writes_to_the_callers_streams(tmp_path, capsys):
    with console.Session(str(tmp_path / "x.log")) as session:
        print("own line")
        print("error: own message", file=sys.stderr)
        os.write(1, b"fd-level noise\n")
        session.say("said")
    captured = capsys.readouterr()
    assert captured.out.splitlines()[1:3] == ["own line", "said"]
    assert captured.err == "error: own message\n"
    assert "fd-level noise" in (tmp_path / "x.log").read_text()
    assert "fd-level noise" not in captured.out


def test_log_paths_are_new_per_run(tmp_path):
    first = console.new_log_path(str(tmp_path), "run")
    assert re.fullmatch(re.escape(str(tmp_path / "logs")) + r"/run-\d{8}-\d{6}\.log", first)
    os.makedirs(os.path.dirname(first))
    open(first, "w").close()
    assert console.new_log_path(str(tmp_path), "run") != first


def test_library_code_is_told_from_the_projects():
    import logging

    assert console.is_library_code(logging.__file__)
    assert console.is_library_code(pytest.__file__)
    assert not console.is_library_code(console.__file__)
    assert not console.is_library_code("/tmp/tmpab12cd/train.py")  # project code elsewhere
    assert not console.is_library_code("<string>")


# ---- the Trainer's progress ----------------------------------------------------------------------

def test_the_trainer_emits_progress_only_when_someone_listens(monkeypatch):
    import logging

    from trainer import train

    assert train.PROGRESS_LOGGER == console.PROGRESS_LOGGER
    clock = iter(range(100, 200))
    monkeypatch.setattr(train.time, "perf_counter", lambda: float(next(clock)))
    log = train._EpochLog(epochs=2)
    log.on_epoch_begin(0)
    log.on_train_batch_end(0)  # nobody listens: nothing emitted, nothing timed
    messages = []

    class Listener(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    listener, logger = Listener(), logging.getLogger(train.PROGRESS_LOGGER)
    logger.addHandler(listener)  # as the console attaches its own, at INFO
    monkeypatch.setattr(logger, "level", logging.INFO)
    try:
        log.on_train_batch_end(1)
        log.on_train_batch_end(2)
        log.on_epoch_end(0, {"loss": 0.5})  # the first epoch had 3 batches
        log.on_epoch_begin(1)
        log.on_train_batch_end(0)
    finally:
        logger.removeHandler(listener)
    assert messages[0].startswith("[Trainer] epoch 1/2 train: 2 batches, ")  # no total yet
    assert re.fullmatch(r"\[Trainer\] epoch 2/2 train \[#{8}-{16}\] 1/3 batches, \d+ s, "
                        r"~\d+ s left", messages[-1]), messages[-1]


# ---- a component failing with a huge message, through the local runner ---------------------

@pytest.mark.e2e
def test_a_component_failure_with_a_huge_message_ends_in_its_first_lines(tmp_path, capsys,
                                                                           monkeypatch):
    """local_runner's pipeline run, with a pipeline of one component raising TensorFlow's
    100 KB label error: the console ends with its first lines and the log's path."""
    from tfx.orchestration import metadata
    from tfx.orchestration import pipeline as tfx_pipeline

    import local_runner
    from pipeline.config import PipelineConfig
    from tests.failing_component import HugeError

    config = PipelineConfig(data_dir=str(tmp_path), pipeline_root=str(tmp_path / "root"),
                            serving_dir=str(tmp_path / "serving"))
    monkeypatch.setattr("pipeline.pipeline.create_pipeline", lambda config: tfx_pipeline.Pipeline(
        pipeline_name=config.pipeline_name, pipeline_root=config.pipeline_root,
        components=[HugeError()],
        metadata_connection_config=metadata.sqlite_metadata_connection_config(
            config.metadata_path)))
    assert local_runner.run_pipeline(config, verbose=False) == exits.FAILED
    captured = capsys.readouterr()
    out, err = captured.out.splitlines(), captured.err.splitlines()
    assert "Component HugeError is running" in out
    assert any(re.fullmatch(r"Component HugeError failed after \d+\.\d s", line) for line in out)
    assert err[0] == ("error: the pipeline stopped: InvalidArgumentError: Graph execution "
                      "error:")
    assert any(line.startswith("  Received a label value of 255") for line in err)
    assert len(captured.err) < 1500 and len(err) <= 10
    log_path = err[-1][len("Full log: "):]
    assert err[-1].startswith("Full log: ") and log_path.startswith(str(tmp_path / "root"))
    text = open(log_path, encoding="utf-8").read()
    assert "1 " * 50000 in text  # the whole message, in the log
    assert "Received a label value" not in captured.out


# ---- the compile command, through its wrapper ------------------------------------------------

def test_the_compile_command_logs_beside_its_output(tmp_path, capsys, monkeypatch):
    """kubeflow_v2_runner.py's command: its own lines shown, the compile's output in
    <dir of --output>/logs/; a bad flag value is refused before any log is opened."""
    import kubeflow_v2_runner
    from tests.test_kubeflow_v2 import ARGS

    output = tmp_path / "build" / "pipeline.json"
    assert kubeflow_v2_runner.main(ARGS + ["--output", str(output)]) == 0
    out = capsys.readouterr().out.splitlines()
    [log] = os.listdir(tmp_path / "build" / "logs")
    log_path = str(tmp_path / "build" / "logs" / log)
    assert out[0] == f"Log: {log_path}" and out[-1] == f"Log: {log_path}"
    assert "Loading TFX..." in out and f"Wrote {output}" in out and len(out) <= 6
    assert output.exists() and re.fullmatch(r"compile-\d{8}-\d{6}\.log", log)
    assert "Loading TFX..." in open(log_path, encoding="utf-8").read()

    bad = list(ARGS)
    bad[bad.index("--pipeline-root") + 1] = "/local/root"  # main refuses it: its error shown
    assert kubeflow_v2_runner.main(bad + ["--output", str(output), "--verbose"]) == 2
    assert "error: " in capsys.readouterr().err
