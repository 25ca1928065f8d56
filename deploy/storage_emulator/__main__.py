"""python -m deploy.storage_emulator run --gcs-dir DIR -- COMMAND...

Runs COMMAND where gs:// is an emulated Cloud Storage seeded from DIR (`DIR/BUCKET/PATH` is
`gs://BUCKET/PATH`), reached by every Cloud Storage client as on Google Cloud, and written back
to DIR when COMMAND ends (see deploy/storage_emulator/__init__.py). E.g. the local runner on
buckets:

    python -m deploy.storage_emulator run --gcs-dir workdir/gcs -- \\
        python local_runner.py --data-dir gs://my-bucket/data --serving-dir gs://my-bucket/serving

Exit status: COMMAND's; 2 when the session cannot start (the reason on one line).
"""

import argparse
import os
import sys
from typing import List, Optional

from cli import exits


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.storage_emulator",
        description="Run a command against an emulated Cloud Storage (fake-gcs-server behind "
                    "Google's own host names, credentials from an emulated metadata server, "
                    "in a private network namespace; root only).",
        epilog=exits.epilog(ok="the command succeeded", failed="the command failed",
                            bad_input="bad flags, or the session could not start"),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run COMMAND with gs:// emulated",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    run.add_argument("--gcs-dir", required=True, metavar="DIR",
                     help="the directory holding the buckets (DIR/BUCKET/PATH is "
                          "gs://BUCKET/PATH); written back when COMMAND ends")
    run.add_argument("--project", default="my-project", help="the metadata server's project id")
    run.add_argument("--log-dir", default=None, metavar="DIR",
                     help="keep the session's request log and server log here (default: "
                          "removed with the session)")
    run.add_argument("command_line", nargs=argparse.REMAINDER, metavar="-- COMMAND",
                     help="the command and its arguments")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    command = args.command_line[1:] if args.command_line[:1] == ["--"] else args.command_line
    if not command:
        print("error: no command: give it after --", file=sys.stderr)
        return exits.BAD_INPUT
    if not os.path.isdir(args.gcs_dir):
        print(f"error: --gcs-dir {args.gcs_dir} is not a directory", file=sys.stderr)
        return exits.BAD_INPUT
    from deploy.storage_emulator import runner, sandbox

    try:
        if not sandbox.inside():
            sandbox.enter([sys.executable, "-m", "deploy.storage_emulator", *argv])
        return runner.run(command, args.gcs_dir, project=args.project, log_dir=args.log_dir)
    except sandbox.SandboxError as error:
        print(f"error: {error}", file=sys.stderr)
        return exits.BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
