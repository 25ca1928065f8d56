"""Command line: `python -m oxford_pet make-demo-data DIR [--count N] [--seed S] ...`."""

import argparse
import sys
import time

from cli import exits
from oxford_pet import demo, layout


def _progress(done: int, total: int) -> None:
    if done == total or done % max(1, total // 10) == 0:
        print(f"  {done}/{total} images", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m oxford_pet",
                                     description="Oxford-IIIT Pet dataset tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser(
        "make-demo-data",
        help="write a generated dataset in the real dataset's on-disk layout",
        description="Writes DIR/images/*.jpg, DIR/annotations/trimaps/*.png, list.txt, "
                    "trainval.txt and test.txt, as the official archives unpack. "
                    "Deterministic for a seed.")
    make.add_argument("data_dir", metavar="DIR", help="directory to write (created if missing)")
    make.add_argument("--count", type=int, default=400, help="number of images (default 400)")
    make.add_argument("--seed", type=int, default=None,
                      help="random seed (default: the span number with --span, else 0)")
    make.add_argument("--span", type=int, default=None,
                      help=f"write span N into DIR/{layout.SPAN_PATTERN.replace('{SPAN}', 'N')}"
                           f" (the layout the pipeline's --span-pattern "
                           f"{layout.SPAN_PATTERN} reads: it trains on the latest span)")
    make.add_argument("--min-size", type=int, default=160, help="smallest image side, px")
    make.add_argument("--max-size", type=int, default=320, help="largest image side, px")
    args = parser.parse_args(argv)

    start = time.time()
    seed = args.seed if args.seed is not None else (args.span or 0)
    try:
        data_dir = args.data_dir if args.span is None else layout.span_dir(args.data_dir,
                                                                           args.span)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return exits.BAD_INPUT
    print(f"Writing {args.count} demo images to {data_dir}", flush=True)
    try:
        entries = demo.make_demo_data(data_dir, args.count, seed, args.min_size,
                                      args.max_size, progress=_progress)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return exits.BAD_INPUT
    print(f"Wrote {len(entries)} images in {time.time() - start:.1f} s", flush=True)
    return exits.OK


if __name__ == "__main__":
    sys.exit(main())
