"""pytest's own flags (`scripts/test.sh -v`, `-x`, `-k ...`) do not reach absl.

TFX's Beam executors parse `sys.argv` with absl (tfx/dsl/components/base/base_beam_executor.py:
`flags.FLAGS(sys.argv + beam_pipeline_args, known_only=True)`), where `-v` is absl's
verbosity: under `pytest -v` every Beam component of an e2e fixture failed. tests/conftest.py
leaves only the program name in sys.argv once pytest has read its arguments.
"""

import os
import re
import subprocess

from tfx.dsl.components.base import base_beam_executor

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _BeamExecutor(base_beam_executor.BaseBeamExecutor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802 - TFX's name
        raise NotImplementedError


def test_a_beam_executor_parses_its_flags_under_pytest():
    executor = _BeamExecutor(base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=["--direct_num_workers=1"]))
    assert "--direct_num_workers=1" in executor._beam_pipeline_args  # noqa: SLF001


def test_the_test_command_takes_pytests_verbose_flag():
    result = subprocess.run(
        ["bash", "scripts/test.sh", "-v", "-p", "no:cacheprovider",
         f"{__file__}::test_a_beam_executor_parses_its_flags_under_pytest"],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    # xdist's verbose line; the test's id carries its group (its module here,
    # tests/conftest.py): without it tests sharing a run would be spread over both workers
    # (pytest 9.2 drops it: pytest-dev/pytest-xdist#1386, requirements.in).
    assert re.search(r"\] PASSED tests/test_pytest_flags\.py::"
                     r"test_a_beam_executor_parses_its_flags_under_pytest@tests\.test_pytest_flags",
                     result.stdout), result.stdout[-3000:]
