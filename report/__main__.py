"""`python -m report`: builds the evaluation report of a finished pipeline run, on demand.

    python -m report --pipeline-root workdir/pipeline_root          # the latest run
    python -m report --evaluation-dir workdir/pipeline_root/Evaluator/evaluation/12

TensorFlow's and TFMA's own output goes to <output>/logs/report-<time>.log.
"""

import argparse
import os
import sys
from typing import List, Optional

from storage import files


def build_parser() -> argparse.ArgumentParser:
    from cli import exits
    from pipeline.config import METADATA_FILE, PipelineConfig  # light: no TensorFlow

    defaults = PipelineConfig.__dataclass_fields__
    parser = argparse.ArgumentParser(
        prog="python -m report",
        description="Write a self-contained HTML evaluation report (report.html), a short "
                    "Markdown summary (report.md) and the gathered facts (facts.json) for a "
                    "pipeline run. Every pipeline run writes one too (EvaluationReport "
                    "component); this rebuilds or relocates it.",
        epilog=exits.epilog(failed="gathering or writing the report failed",
                            bad_input="bad flags, or no such run, evaluation or output dir"),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--pipeline-root",
                        help=f"a pipeline root holding {METADATA_FILE}: reports its latest "
                             "run (or --run-id)")
    source.add_argument("--evaluation-dir",
                        help="an Evaluator output directory; the rest of its run is read from "
                             "the metadata store of its pipeline root when there is one")
    parser.add_argument("--output", required=True, help="directory to write the report into")
    parser.add_argument("--pipeline-name", default=defaults["pipeline_name"].default,
                        help="the pipeline's name in the metadata store")
    parser.add_argument("--metadata-path",
                        help=f"the ML Metadata SQLite file (default: "
                             f"<pipeline-root>/{METADATA_FILE})")
    parser.add_argument("--run-id", help="a run id of the pipeline (default: the latest)")
    parser.add_argument("--max-examples", type=int,
                        default=defaults["report_max_examples"].default,
                        help="score at most this many eval examples for the sample grid "
                             "(0: no samples)")
    parser.add_argument("--samples", type=int, default=defaults["report_samples"].default,
                        help="best and worst examples shown, each")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's and TFMA's own lines on the console too (they "
                             "always go to <output>/logs/report-<time>.log)")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    from cli import console, exits

    args = build_parser().parse_args(argv)
    if args.max_examples < 0 or args.samples < 0:
        print("error: --max-examples and --samples must be 0 or more", file=sys.stderr)
        return exits.BAD_INPUT

    output = files.absolute(args.output)  # may be gs://; the log stays local
    log_parent = os.getcwd() if files.is_remote(output) else output
    with console.Session(console.new_log_path(log_parent, "report"), verbose=args.verbose,
                         failure="the report stopped"):
        return build_report(args, output)
    return exits.FAILED  # the session showed the error and the log's path


def build_report(args: argparse.Namespace, output: str) -> int:
    """Gathers the facts of the run and writes the report; BAD_INPUT when the run cannot be
    read (no such store, run or evaluation) or the output cannot be written."""
    from cli import exits
    from pipeline import report_inputs
    from report import facts, wording, write

    try:
        if args.pipeline_root:
            run = report_inputs.from_pipeline_root(
                os.path.abspath(args.pipeline_root), args.pipeline_name, args.metadata_path,
                args.run_id)
        else:
            run = report_inputs.from_evaluation_dir(args.evaluation_dir, args.pipeline_name)
        gathered = facts.gather(run, args.max_examples, args.samples)
        paths = write.write_report(gathered, output)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return exits.BAD_INPUT
    for note in wording.notes(gathered):
        print(f"note: {note}")
    print(f"Report: {paths[write.HTML_FILE]}\nSummary: {paths[write.MARKDOWN_FILE]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
