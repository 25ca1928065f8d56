"""Memory and time of the native-resolution metrics for one large image (default 4000x3000).

What the Evaluator does per eval example and model (trainer/metrics.py
`_NativeConfusionPreprocessor`): decode the raw example's trimap PNG, resize the model's S x S
logits bilinearly to the trimap's size, argmax, count a 3x3 confusion matrix. This measures, each
variant in a fresh process (so one variant's peak does not hide another's):

  preprocessor  the whole per-example step, as TFMA calls it (PNG decode + strips + counts)
  strips        native_confusion_matrix alone, the default strip size (about 1 M pixels a strip)
  whole         the same arithmetic with one strip the size of the image (no bound)
  tf_resize     tf.image.resize of the whole logits, tf.argmax, then the counts: the plain way

Per variant: wall seconds (median of --repeats), the peak resident memory above what the process
held just before (Linux VmHWM, reset through /proc/self/clear_refs), the peak of Python/numpy
allocations (tracemalloc; TensorFlow's own buffers are not traced), and the CPU time stolen by
the hypervisor meanwhile. Writes bench/NATIVE_METRICS.md.

    ENV=$(scripts/ensure_env.sh)
    $ENV/bin/python bench/native_metrics_bench.py                 # 4000x3000, 128 px logits
    $ENV/bin/python bench/native_metrics_bench.py --width 640 --height 480 --out /tmp/N.md
"""

import argparse
import datetime
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from typing import Any, Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
sys.path.insert(0, HERE)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pipeline_bench import cpu_ticks, steal_share  # noqa: E402  (the same steal figure)

VARIANTS = ("preprocessor", "strips", "whole", "tf_resize")


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_peak() -> bool:
    """Resets VmHWM (the peak RSS) to the current RSS; False where the kernel does not allow."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def inputs(width: int, height: int, size: int):
    """A trimap of the given size (a pet ellipse, a border ring, background: 1/3/2), its PNG,
    and S x S logits that roughly agree with it."""
    import numpy as np
    from PIL import Image

    ys, xs = np.mgrid[0:height, 0:width]
    radius = ((xs - width / 2) / (0.35 * width)) ** 2 + ((ys - height / 2) / (0.35 * height)) ** 2
    trimap = np.full((height, width), 2, np.uint8)
    trimap[radius < 1.1] = 3
    trimap[radius < 0.9] = 1
    buffer = io.BytesIO()
    Image.fromarray(trimap, "L").save(buffer, "PNG")
    small = np.asarray(Image.fromarray(trimap).resize((size, size), Image.NEAREST))
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1, (size, size, 3)).astype(np.float32)
    logits[..., 0] += 3 * (small == 1)
    logits[..., 1] += 3 * (small == 2)
    logits[..., 2] += 3 * (small == 3)
    return trimap, buffer.getvalue(), logits


def run_variant(variant: str, width: int, height: int, size: int, repeats: int
                ) -> Dict[str, Any]:
    """One variant in this process: seconds per repeat, peak RSS growth, traced peak."""
    import numpy as np
    import tensorflow as tf
    import tensorflow_model_analysis as tfma

    from trainer import features, metrics

    preprocessor = metrics._NativeConfusionPreprocessor()

    def once(trimap, png, logits):
        if variant == "preprocessor":
            extracts = {tfma.FEATURES_KEY: {features.MASK_KEY: np.array([png], object)},
                        tfma.PREDICTIONS_KEY: {features.LOGITS_KEY: logits}}
            return next(iter(preprocessor.process(extracts)))
        if variant == "strips":
            return metrics.native_confusion_matrix(logits, trimap)
        if variant == "whole":
            return metrics.native_confusion_matrix(logits, trimap,
                                                   strip_pixels=trimap.size)
        resized = tf.image.resize(logits[None], trimap.shape, method="bilinear")[0]
        predicted = tf.argmax(resized, axis=-1).numpy()
        return metrics.confusion_matrix(trimap.astype(np.int64) - 1, predicted)

    once(*inputs(64, 48, size))  # warms up TensorFlow's kernels on a small image
    big = inputs(width, height, size)
    # The first large call is the measured one: later calls reuse memory the allocator kept.
    before = _status_kib("VmRSS")
    resettable = _reset_peak()
    tracemalloc.start()
    matrix = once(*big)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = _status_kib("VmHWM")
    # Each variant counts the same pixels as the pipeline's arithmetic.
    np.testing.assert_array_equal(matrix, metrics.native_confusion_matrix(big[2], big[0]))
    seconds = []
    ticks = cpu_ticks()
    for _ in range(repeats):
        start = time.perf_counter()
        once(*big)
        seconds.append(time.perf_counter() - start)
    stolen = steal_share(ticks, cpu_ticks())
    return {"variant": variant, "seconds": statistics.median(seconds),
            "all_seconds": seconds,
            "peak_rss_growth_mib": (peak - before) / 1024 if resettable else None,
            "traced_peak_mib": traced_peak / 2 ** 20, "steal": stolen,
            "pixels": int(matrix.sum()), "accuracy": float(np.trace(matrix) / matrix.sum())}


def render(results: List[Dict[str, Any]], args: argparse.Namespace) -> str:
    by_name = {result["variant"]: result for result in results}
    pixels = args.width * args.height
    rows = []
    labels = {"preprocessor": "whole per-example step (PNG decode + strips + counts)",
              "strips": "native_confusion_matrix, default strips (about 1 M pixels each)",
              "whole": "the same arithmetic in one strip (no bound)",
              "tf_resize": "tf.image.resize of the whole logits + tf.argmax + counts"}
    for name in VARIANTS:
        result = by_name.get(name)
        if not result:
            continue
        growth = result["peak_rss_growth_mib"]
        stolen = result["steal"]
        rows.append(f"| {labels[name]} | {result['seconds']:.2f} | "
                    f"{pixels / result['seconds'] / 1e6:.1f} | "
                    f"{'n/a' if growth is None else f'{growth:.0f}'} | "
                    f"{result['traced_peak_mib']:.0f} | "
                    f"{'n/a' if stolen is None else f'{stolen:.0%}'} |")
    ratios = []
    if "strips" in by_name and "whole" in by_name and by_name["whole"]["peak_rss_growth_mib"]:
        strips, whole = by_name["strips"], by_name["whole"]
        memory = strips["peak_rss_growth_mib"] / whole["peak_rss_growth_mib"]
        ratios.append(f"- Strips against one strip: {strips['seconds'] / whole['seconds']:.2f}x "
                      f"the time, {memory:.2f}x the peak memory growth.")
    if "strips" in by_name and "tf_resize" in by_name:
        strips, plain = by_name["strips"], by_name["tf_resize"]
        ratios.append(f"- Strips against tf.image.resize of the whole image: "
                      f"{strips['seconds'] / plain['seconds']:.2f}x the time"
                      + (f", {strips['peak_rss_growth_mib'] / plain['peak_rss_growth_mib']:.2f}x "
                         f"the peak memory growth." if plain["peak_rss_growth_mib"] else "."))
    load = os.getloadavg()[0]
    return "\n".join([
        "# Native-resolution metrics: memory and time for one large image", "",
        f"Written by `bench/native_metrics_bench.py` on "
        f"{datetime.date.today().isoformat()}.", "",
        f"- machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}; load average after the run {load:.1f}",
        f"- input: a {args.width}x{args.height} trimap ({pixels / 1e6:.1f} M pixels, PNG) and "
        f"{args.size}x{args.size}x3 float32 logits; {args.repeats} timed repeats per variant "
        f"(median), each variant in its own process",
        f"- command: `bench/native_metrics_bench.py --width {args.width} --height "
        f"{args.height} --size {args.size} --repeats {args.repeats}`", "",
        "Every variant gives the same confusion matrix (checked). Peak memory growth: the "
        "process's peak resident memory (VmHWM) above its resident memory just before the "
        "first call on the large image (after a warm-up on a small one). "
        "Traced: the peak of Python and numpy allocations during the call (tracemalloc; "
        "TensorFlow's buffers are not traced). CPU stolen: the share of the machine's CPU time "
        "the hypervisor gave to other virtual machines during the timed repeats.", "",
        "| variant | seconds | M pixels/s | peak memory growth MiB | traced MiB | CPU stolen |",
        "| --- | ---: | ---: | ---: | ---: | ---: |", *rows, "", *ratios, ""])


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=4000, help="trimap width in pixels")
    parser.add_argument("--height", type=int, default=3000, help="trimap height in pixels")
    parser.add_argument("--size", type=int, default=128, help="the model's input side (logits)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per variant")
    parser.add_argument("--out", default=os.path.join(HERE, "NATIVE_METRICS.md"),
                        help="the markdown file to write")
    parser.add_argument("--variant", choices=VARIANTS,
                        help="internal: run one variant in this process and print its JSON")
    args = parser.parse_args(argv)
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.width, args.height, args.size,
                                     args.repeats)))
        return 0
    results = []
    for variant in VARIANTS:
        command = [sys.executable, os.path.abspath(__file__), "--variant", variant,
                   "--width", str(args.width), "--height", str(args.height),
                   "--size", str(args.size), "--repeats", str(args.repeats)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"{variant}: {results[-1]['seconds']:.2f} s, peak growth "
              f"{results[-1]['peak_rss_growth_mib']} MiB", flush=True)
    text = render(results, args)
    with open(args.out, "w") as handle:
        handle.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
