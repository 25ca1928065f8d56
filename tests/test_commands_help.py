"""Every command's `--help` exits 0 and describes every flag.

Commands are found, not listed: every Python file of the repository (outside tests/) with an
`if __name__ == "__main__":` block, run as a script or, inside a package, as a module (`python
-m oxford_pet`, `python -m pipeline.x`). A new command is covered by being written. Each runs
with `--help` in a subprocess under a small wrapper that records every argparse parser it
builds, so subcommands are found and checked the same way.
"""

import ast
import json
import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_DIRS = {"tests", ".git", "workdir", "__pycache__", ".venv", "build"}

# Records each parser's flags (and subcommands) as the command parses its arguments.
RECORDER = textwrap.dedent("""
    import argparse, json, runpy, sys
    report, kind, target, *args = sys.argv[1:]
    sys.path.insert(0, {repo!r})
    parsers = []
    original = argparse.ArgumentParser.parse_known_args

    def recording(self, args=None, namespace=None):
        flags, subcommands = [], []
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                subcommands.extend(action.choices)
            elif not isinstance(action, argparse._HelpAction):
                flags.append({{"names": action.option_strings or [action.dest],
                              "help": action.help}})
        parsers.append({{"prog": self.prog, "flags": flags, "subcommands": subcommands}})
        with open(report, "w") as handle:
            json.dump(parsers, handle)
        return original(self, args, namespace)

    argparse.ArgumentParser.parse_known_args = recording
    sys.argv = [target] + args
    if kind == "module":
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(target, run_name="__main__")
""")


def _is_command(path: str) -> bool:
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    return any(isinstance(node, ast.If) and "__name__" in ast.unparse(node.test)
               and "__main__" in ast.unparse(node.test) for node in tree.body)


def discover_commands():
    """(kind, target) for every command: ("module", "oxford_pet"), ("script", "predict.py")."""
    commands = []
    for root, dirs, files in os.walk(REPO):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        for name in sorted(files):
            path = os.path.join(root, name)
            if not name.endswith(".py") or not _is_command(path):
                continue
            relative = os.path.relpath(path, REPO)
            in_package = os.path.isfile(os.path.join(root, "__init__.py"))
            if not in_package:
                commands.append(("script", relative))
            else:
                module = relative[:-len(".py")].replace(os.sep, ".")
                commands.append(("module", module[:-len(".__main__")]
                                 if name == "__main__.py" else module))
    return commands


COMMANDS = discover_commands()


def test_the_known_commands_are_found():
    assert {("script", "local_runner.py"), ("module", "oxford_pet"),
            ("script", os.path.join("bench", "compare_architectures.py")),
            ("script", os.path.join("bench", "ingest_bench.py"))} <= set(COMMANDS)


def _help(kind, target, args, tmp_path):
    report = tmp_path / "parsers.json"
    result = subprocess.run(
        [sys.executable, "-c", RECORDER.format(repo=REPO), str(report), kind, target, *args,
         "--help"], capture_output=True, text=True, cwd=REPO, timeout=300)
    parsers = json.loads(report.read_text()) if report.exists() else []
    return result, parsers


def check_help(kind, target, tmp_path):
    """Runs `--help` on the command and on each of its subcommands, checking each; returns the
    subcommand paths checked ("" for the command itself)."""
    pending, checked = [[]], []
    while pending:
        words = pending.pop()
        result, parsers = _help(kind, target, words, tmp_path)
        name = " ".join([target, *words, "--help"])
        assert result.returncode == 0, f"{name}: {result.stderr[-2000:]}"
        assert result.stdout.startswith("usage:"), name
        assert parsers, f"{name}: no argparse parser seen"
        parser = parsers[-1]  # the one that printed the help
        for flag in parser["flags"]:
            assert flag["help"] and flag["help"].strip(), f"{name}: {flag['names']} has no help"
            for option in flag["names"]:
                if option.startswith("-"):
                    assert option in result.stdout, f"{name}: {option} not shown"
        pending.extend([*words, sub] for sub in parser["subcommands"])
        checked.append(" ".join(words))
    return checked


@pytest.mark.parametrize("kind, target", COMMANDS, ids=[target for _, target in COMMANDS])
def test_help_exits_0_and_describes_every_flag(kind, target, tmp_path):
    check_help(kind, target, tmp_path)


def test_subcommands_are_checked_too(tmp_path):
    assert sorted(check_help("module", "components.model_versions", tmp_path)) == [
        "", "list", "rollback"]
