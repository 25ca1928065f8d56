"""local_runner.py's own flags: the data source, where results go, the report, the execution.
(The training and gate flags both runners share are pipeline/flags.py's.) Light: no TensorFlow,
so `--help` stays fast."""

import argparse
import os

from cli import exits
from oxford_pet import download, sources
from pipeline.config import METADATA_FILE, PipelineConfig

_DEFAULTS = PipelineConfig.__dataclass_fields__


def add_data_flags(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group(
        "data (default: download the official Oxford-IIIT Pet archives, verify, extract)")
    source = data.add_mutually_exclusive_group()
    source.add_argument("--data-dir", help="the dataset as you have it: a directory (or gs:// "
                        "URI) as the archives unpack it (images/, annotations/trimaps/, "
                        "annotations/trainval.txt, test.txt), or a local one holding "
                        "images.tar.gz and annotations.tar.gz")
    source.add_argument("--demo", action="store_true",
                        help="use generated demo data in the real layout, written to "
                             "<work-dir>/demo-data on first use (no network needed)")
    source.add_argument("--tfds", action="store_true",
                        help="read TensorFlow Datasets' oxford_iiit_pet (3.x or 4.x) prepared "
                             "under --tfds-data-dir; with none there, prepare it with TFDS's own "
                             "builder from the official archives (downloaded and verified once)")
    data.add_argument("--demo-count", type=int, default=sources.DEMO_COUNT,
                      help="images in the generated demo dataset")
    data.add_argument("--download-dir", help="where the official archives are downloaded and "
                      "extracted (default: <work-dir>/downloads)")
    data.add_argument("--base-url", default=download.DEFAULT_BASE_URL,
                      help="where to download the archives from (a mirror works)")
    data.add_argument("--tfds-data-dir", default=os.path.expanduser("~/tensorflow_datasets"),
                      help="TFDS data directory holding oxford_iiit_pet/<version>/")
    data.add_argument("--tfds-version", default=None, metavar="VERSION",
                      help="which prepared oxford_iiit_pet to read: 3.2.0, 3 or 3.*.* (the "
                           "TensorFlow tutorial's), 4... (default: the newest prepared)")
    data.add_argument("--max-quarantined-fraction", type=float,
                      default=_DEFAULTS["max_quarantined_fraction"].default,
                      help="stop ingest when more than this share of a split cannot be used "
                           "(the reasons go to the quarantine report)")
    data.add_argument("--span-pattern", default=None, metavar="PATTERN",
                      help="the data directory holds numbered spans, each in the dataset's "
                           "layout, e.g. 'span-{SPAN}' for DIR/span-1/, DIR/span-2/: train on "
                           "the latest span")


def add_output_flags(parser: argparse.ArgumentParser, default_work_dir: str) -> None:
    paths = parser.add_argument_group("where results go")
    paths.add_argument("--work-dir", default=default_work_dir,
                       help="default parent of the pipeline root, serving dir and demo data")
    paths.add_argument("--pipeline-root", help=f"artifacts and {METADATA_FILE}, a local "
                       "directory (it holds the SQLite metadata store, the run lock and the "
                       "logs) (default: <work-dir>/pipeline_root)")
    paths.add_argument("--serving-dir", help="pushed models go to "
                       "<serving-dir>/<model-name>/<version>/, a directory or gs:// URI "
                       "(default: <work-dir>/serving)")
    paths.add_argument("--model-name", default=_DEFAULTS["model_name"].default,
                       help="the model's directory under the serving dir")
    paths.add_argument("--pipeline-name", default=_DEFAULTS["pipeline_name"].default,
                       help="the pipeline's name in the metadata store (runs and cache)")


def add_report_flags(parser: argparse.ArgumentParser) -> None:
    report = parser.add_argument_group("evaluation report (report.html, report.md)")
    for field, text in (("report_max_examples", "score at most this many eval examples for "
                                                "the sample grid"),
                        ("report_samples", "best and worst examples shown in the report, "
                                           "each")):
        report.add_argument(f"--{field.replace('_', '-')}", type=int,
                            default=_DEFAULTS[field].default, help=text)


def add_execution_flags(parser: argparse.ArgumentParser) -> None:
    run = parser.add_argument_group("execution")
    run.add_argument("--beam-arg", action="append", dest="beam_args", metavar="ARG",
                     help="a Beam pipeline argument, repeatable (default: none, Beam's "
                          "DirectRunner in_memory with 1 worker; with any Beam argument TFX "
                          "builds an sdist of itself for each Beam component; more than one "
                          "DirectRunner worker is refused: it can drop records)")
    run.add_argument("--no-cache", action="store_true",
                     help="rerun every component even if its inputs did not change")
    run.add_argument("--new-metadata-store", action="store_true",
                     help="start a new metadata store when <pipeline-root>/metadata.sqlite is "
                          "damaged (moved aside) or missing while earlier outputs are there: "
                          "no cache, no baseline, no history; pushed versions stay")
    run.add_argument("--verbose", action="store_true",
                     help="show every TFX, Beam, TensorFlow and pip line on the console too "
                          "(they always go to <pipeline-root>/logs/run-<time>.log)")
    run.add_argument("--wait-for-lock", type=float, default=0, metavar="SECONDS",
                     help="when another run holds the pipeline root, wait up to this long for "
                          f"it to end; 0: stop at once with exit code {exits.LOCKED}")
