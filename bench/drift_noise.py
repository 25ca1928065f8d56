"""How far TFDV's Jensen-Shannon divergence moves between two spans drawn alike: the noise
floor under which the data gate (components/data_checks.py) cannot call a difference drift.

    $(scripts/ensure_env.sh)/bin/python bench/drift_noise.py [--trials 10] [--output bench/DRIFT.md]

For each span size n, `--trials` pairs of generated spans (oxford_pet/demo.py, different
seeds: the same distributions) are measured as ingest measures them (oxford_pet/measures.py),
described by TFDV and compared with the drift comparator the gate uses; the largest divergence
of any measured feature over the trials is the floor at n. The power b comes from a
least-squares fit of log floor against log n, the scale c from the envelope (c / n^b at or above
every measured floor) with 10% more: that is what data_checks.Thresholds uses, so a 16-image
test span and a 7,349-image dataset are judged by the same rule.
"""

import argparse
import io
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

SIZES = (8, 16, 32, 64, 128, 256)


def measured_span(count: int, seed: int):
    """The measures of `count` generated samples (demo data's distributions)."""
    from oxford_pet import breeds, demo, measures

    rows = []
    for index, (entry, _) in enumerate(demo.plan(count)):
        image, trimap = demo.make_sample(seed, index, breeds.BY_NAME[entry.name.rsplit("_", 1)[0]],
                                         160, 320)
        encoded = io.BytesIO()
        image.save(encoded, "JPEG", quality=90)
        rows.append(measures.measure(np.asarray(image), np.asarray(trimap),
                                     len(encoded.getvalue())))
    return rows


def statistics(rows):
    import pandas as pd
    import tensorflow_data_validation as tfdv

    return tfdv.generate_statistics_from_dataframe(pd.DataFrame(rows))


def divergences(current, previous):
    from components import data_checks

    return data_checks.divergences(current, previous, data_checks.Comparison.DRIFT)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10,
                        help="pairs of alike spans per span size")
    parser.add_argument("--output", default=os.path.join(HERE, "DRIFT.md"),
                        help="where the table goes")
    args = parser.parse_args(argv)
    started = time.time()
    floors = {}
    for size in SIZES:
        largest = 0.0
        for trial in range(args.trials):
            first = statistics(measured_span(size, 1000 + 2 * trial))
            second = statistics(measured_span(size, 1001 + 2 * trial))
            largest = max([largest] + list(divergences(second, first).values()))
        floors[size] = largest
        print(f"n={size}: largest divergence over {args.trials} alike pairs {largest:.3f}",
              flush=True)
    sizes = np.array(SIZES, dtype=float)
    slope, _ = np.polyfit(np.log(sizes), np.log([floors[s] for s in SIZES]), 1)
    power = -slope
    scale = 1.1 * max(floors[size] * size ** power for size in SIZES)
    lines = ["# Drift noise floor (bench/drift_noise.py)", "",
             f"- command: `$(scripts/ensure_env.sh)/bin/python bench/drift_noise.py --trials "
             f"{args.trials}`", f"- {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
             f"{time.time() - started:.0f} s", "",
             "| span size n | largest JS divergence, alike spans |", "| --- | --- |"]
    lines += [f"| {size} | {floors[size]:.3f} |" for size in SIZES]
    lines += ["", f"Envelope: floor(n) = {scale:.3g} / n^{power:.3g} (power from the fit, "
                  "scale 1.1 x the smallest that covers every row); at 16 images "
                  f"{scale / 16 ** power:.2f}, at 3,680 (the real train split) "
                  f"{scale / 3680 ** power:.4f}"]
    with open(args.output, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines[-1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
