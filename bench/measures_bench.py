"""What the measured image features cost ingest (oxford_pet/measures.py): the ExampleGen's Beam
job on the same generated images, with the features and without them, alternated.

    $(scripts/ensure_env.sh)/bin/python bench/measures_bench.py [--count 2000] [--rounds 3]

"Without" replaces the measuring and the features it adds to each example by nothing, in this
process only; everything else is the executor the pipeline runs (bench/ingest_bench.py's
beam_ingest, one worker). A first, unrecorded run warms the page cache and TensorFlow; then each
round runs both, in turn, on the same files; the table has every run and the median ratio.
Writes bench/MEASURES.md.
"""

import argparse
import contextlib
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))


@contextlib.contextmanager
def without_measures():
    """Ingest as before the measures: no measuring, no measured features in the examples."""
    from oxford_pet import measures, records

    saved = measures.measure, records._measured_features  # noqa: SLF001
    measures.measure = lambda pixels, trimap, file_bytes: {"brightness_std": 99.0}
    records._measured_features = lambda measured: {}  # noqa: SLF001
    try:
        yield
    finally:
        measures.measure, records._measured_features = saved  # noqa: SLF001


def main(argv=None) -> int:
    import numpy as np

    import ingest_bench  # bench/
    import machine_facts  # bench/
    from pipeline_bench import cpu_ticks, steal_share  # bench/: the same steal figure

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000, help="generated images to ingest")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each variant")
    parser.add_argument("--data-dir", default=os.path.join(tempfile.gettempdir(),
                                                           "petseg-bench-data"),
                        help="where the generated dataset is (ingest_bench.py's, reused)")
    parser.add_argument("--out", default=os.path.join(HERE, "MEASURES.md"),
                        help="the markdown table to write")
    args = parser.parse_args(argv)
    ingest_bench.ensure_dataset(args.data_dir, args.count)
    beam_args = ingest_bench.MODES["Beam in_memory, 1 worker"]
    times = {"with": [], "without": []}
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    ticks = cpu_ticks()
    with tempfile.TemporaryDirectory() as scratch:
        ingest_bench.beam_ingest(args.data_dir, os.path.join(scratch, "warm-up"), beam_args)
        for round_ in range(args.rounds):
            for variant in ("without", "with"):
                out = os.path.join(scratch, f"{variant}-{round_}")
                guard = without_measures() if variant == "without" else contextlib.nullcontext()
                with guard:
                    start = time.time()
                    written = ingest_bench.beam_ingest(args.data_dir, out, beam_args)
                    times[variant].append(time.time() - start)
                assert written == args.count, written
                print(f"round {round_ + 1} {variant}: {times[variant][-1]:.1f} s", flush=True)
    ratios = [w / wo for w, wo in zip(times["with"], times["without"])]
    steal = steal_share(ticks, cpu_ticks())
    lines = ["# What the measured image features cost ingest", "",
             f"- command: `$(scripts/ensure_env.sh)/bin/python bench/measures_bench.py --count "
             f"{args.count} --rounds {args.rounds}`",
             f"- {started}; machine: {machine_facts.describe()}; CPU stolen during the runs: "
             f"{'n/a' if steal is None else f'{steal:.0%}'}", "",
             "| round | without (s) | with (s) | with / without |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {i + 1} | {wo:.1f} | {w:.1f} | {r:.3f} |" for i, (wo, w, r) in
              enumerate(zip(times["without"], times["with"], ratios))]
    lines += ["", f"Median: the features cost {100 * (float(np.median(ratios)) - 1):+.1f}% of "
                  f"ingest time at {args.count:,} images (target: at most +5%)."]
    with open(args.out, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines[-1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
