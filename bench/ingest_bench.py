"""Ingest speed: the project's Beam ExampleGen against a plain single-process loop.

Generates (once) a dataset in the real layout with realistic image sizes (default 2,000 images,
300-500 px JPEGs with trimaps), then measures images per second for:
  - a plain loop: read, verify (decode image and trimap, check values), build the tf.Example,
    write a gzipped TFRecord, one process;
  - the ExampleGen executor (the Beam job the pipeline runs) on the DirectRunner, one worker.
Writes the table to bench/INGEST.md (or --out).

    $(scripts/ensure_env.sh)/bin/python bench/ingest_bench.py [--count 2000]
"""

import argparse
import datetime
import os
import platform
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

# One worker only: with more, Beam 2.66's DirectRunner drops records (pipeline/beam_args.py),
# and the executor then stops (INGEST.md "Later"); the earlier multi-worker rows are in INGEST.md.
MODES = {
    "Beam in_memory, 1 worker": ["--direct_running_mode=in_memory", "--direct_num_workers=1"],
}


def ensure_dataset(data_dir: str, count: int, min_size: int = 300, max_size: int = 500,
                   quality: int = 90) -> None:
    """Generates `count` images (sides min_size..max_size, JPEG `quality`) once; later calls
    reuse them."""
    from oxford_pet import demo

    marker = os.path.join(data_dir, f".complete-{count}")
    if os.path.exists(marker):
        return
    shutil.rmtree(data_dir, ignore_errors=True)
    start = time.time()
    demo.make_demo_data(data_dir, count, seed=2024, min_size=min_size, max_size=max_size,
                        quality=quality,
                        progress=lambda d, t: d % 250 == 0 and print(f"  generated {d}/{t}",
                                                                     flush=True))
    open(marker, "w").close()
    print(f"Generated {count} images in {time.time() - start:.0f} s", flush=True)


def plain_loop(data_dir: str, out_dir: str) -> int:
    import tensorflow as tf

    from oxford_pet import layout, records

    written = 0
    for split in layout.SPLIT_LISTS:
        plan = layout.plan_split(data_dir, split)
        path = os.path.join(out_dir, f"{split}.tfrecord.gz")
        with tf.io.TFRecordWriter(path, options="GZIP") as writer:
            for entry in plan.entries:
                try:
                    sample = records.make_sample(data_dir, entry)
                except records.BadSampleError:
                    continue
                writer.write(sample.example.SerializeToString())
                written += 1
    return written


def beam_ingest(data_dir: str, out_dir: str, beam_args) -> int:
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.proto import example_gen_pb2
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    from components import oxford_pet_example_gen as example_gen

    examples = standard_artifacts.Examples()
    examples.uri = out_dir
    executor = example_gen.Executor(BaseBeamExecutor.Context(beam_pipeline_args=beam_args))
    executor.Do({}, {"examples": [examples]}, {
        "input_base": data_dir,
        "input_config": proto_utils.proto_to_json(example_gen.split_input_config()),
        "output_config": proto_utils.proto_to_json(example_gen_pb2.Output()),
        "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE,
    })
    return sum(examples.get_int_custom_property(f"{s}_ingested") for s in ("train", "eval"))


def machine() -> str:
    import machine_facts  # bench/

    return machine_facts.describe()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="generated images to ingest")
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(),
                                                           "petseg-bench-data"),
                        help="where the generated dataset is written (reused when complete)")
    parser.add_argument("--out", default=os.path.join(HERE, "INGEST.md"),
                        help="the markdown table to write")
    parser.add_argument("--note", default="", help="a line added under the table")
    args = parser.parse_args()
    sys.path.insert(0, REPO)

    ensure_dataset(args.data_dir, args.count)
    import apache_beam
    import tensorflow as tf
    import tfx

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        start = time.time()
        written = plain_loop(args.data_dir, scratch)
        plain_rate = written / (time.time() - start)
        rows.append(("plain loop, 1 process", written, time.time() - start, plain_rate))
        print(f"plain loop: {plain_rate:.1f} images/s", flush=True)
        for label, beam_args in MODES.items():
            out = os.path.join(scratch, label.replace(" ", "_").replace(",", ""))
            start = time.time()
            written = beam_ingest(args.data_dir, out, beam_args)
            seconds = time.time() - start
            rows.append((label, written, seconds, written / seconds))
            print(f"{label}: {written / seconds:.1f} images/s", flush=True)

    lines = [
        "# Ingest benchmark", "",
        f"{args.count} generated images in the real layout (300-500 px JPEGs, PNG trimaps), "
        "read, verified and written as gzipped TFRecord tf.Examples.", "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {machine()}",
        f"- versions: tfx {tfx.__version__}, tensorflow {tf.__version__}, "
        f"apache-beam {apache_beam.__version__}, Python {platform.python_version()}",
        "- command: `$(scripts/ensure_env.sh)/bin/python bench/ingest_bench.py "
        f"--count {args.count}`", "",
        "| ingest | images | seconds | images/s | vs plain loop |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label, written, seconds, rate in rows:
        lines.append(f"| {label} | {written} | {seconds:.1f} | {rate:.1f} | "
                     f"{rate / plain_rate:.2f}x |")
    if args.note:
        lines += ["", args.note]
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
