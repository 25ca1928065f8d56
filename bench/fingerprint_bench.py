"""The cost of ingest's fingerprint: size and modification time of every listed file (what
`oxford_pet.layout.listed_files_fingerprint` does, on every run, cached or not) against a
SHA-256 of their contents.

Writes a dataset of the real one's shape once: 7,349 listed samples (3,680 trainval + 3,669
test), each an image of 40-175 KB (the official images.tar.gz holds 791,918,971 bytes for
7,390 files: 107 KB each on average) and a trimap of 1-4 KB, random bytes (neither way reads
pixels). Then times each way a few passes over the same files and writes the medians to
bench/FINGERPRINT.md (or --out). The files were just written, so the contents hash reads them
from the page cache: a cold disk only makes hashing slower, never the stats.

    $(scripts/ensure_env.sh)/bin/python bench/fingerprint_bench.py [--dir DIR] [--passes 5]
"""

import argparse
import datetime
import hashlib
import os
import platform
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
sys.path.insert(0, HERE)

SPLIT_SIZES = {"train": 3680, "eval": 3669}


def ensure_dataset(data_dir: str, seed: int = 0) -> int:
    """Writes the files once (a marker says they are complete); returns their total bytes."""
    import random

    from oxford_pet import breeds, layout

    marker = os.path.join(data_dir, ".complete")
    rng = random.Random(seed)
    if not os.path.exists(marker):
        os.makedirs(os.path.join(data_dir, layout.IMAGES_DIR), exist_ok=True)
        os.makedirs(os.path.join(data_dir, layout.TRIMAPS_DIR), exist_ok=True)
        index = 0
        for split, count in SPLIT_SIZES.items():
            entries = []
            for _ in range(count):
                breed = breeds.BREEDS[index % len(breeds.BREEDS)]
                entry = layout.ListEntry(f"{breed.name}_{index + 1}", breed.class_id,
                                         breed.species, breed.breed_id)
                for path, size in ((layout.image_path(data_dir, entry.name),
                                    rng.randint(40_000, 175_000)),
                                   (layout.trimap_path(data_dir, entry.name),
                                    rng.randint(1_000, 4_000))):
                    with open(path, "wb") as handle:
                        handle.write(os.urandom(size))
                entries.append(entry)
                index += 1
            layout.write_list(os.path.join(data_dir, layout.SPLIT_LISTS[split]), entries)
        open(marker, "w").close()
    total = 0
    for folder in (layout.IMAGES_DIR, layout.TRIMAPS_DIR):
        with os.scandir(os.path.join(data_dir, folder)) as files:
            total += sum(entry.stat().st_size for entry in files)
    return total


def stat_fingerprint(data_dir: str) -> str:
    from oxford_pet import layout

    return "\n".join(layout.listed_files_fingerprint(data_dir, split) for split in SPLIT_SIZES)


def content_fingerprint(data_dir: str) -> str:
    """The same files, each hashed whole (what a content fingerprint would have to do)."""
    from oxford_pet import layout

    digest = hashlib.sha256()
    for split in SPLIT_SIZES:
        for entry in layout.plan_split(data_dir, split).entries:
            for path in (layout.image_path(data_dir, entry.name),
                         layout.trimap_path(data_dir, entry.name)):
                with open(path, "rb") as handle:
                    digest.update(hashlib.sha256(handle.read()).digest())
    return digest.hexdigest()


def timed(function, data_dir: str, passes: int):
    from pipeline_bench import cpu_ticks, steal_share

    seconds = []
    ticks = cpu_ticks()
    for _ in range(passes):
        start = time.perf_counter()
        function(data_dir)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), min(seconds), max(seconds), steal_share(ticks, cpu_ticks())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Times the ingest fingerprint: file stats "
                                                 "against a hash of the contents.")
    parser.add_argument("--dir", default=os.path.join(tempfile.gettempdir(),
                                                      "petseg-fingerprint-bench"),
                        help="where the dataset is written (once; about 800 MB)")
    parser.add_argument("--passes", type=int, default=5, help="timed passes of each way")
    parser.add_argument("--out", default=os.path.join(HERE, "FINGERPRINT.md"),
                        help="the Markdown file to write")
    args = parser.parse_args(argv)

    total = ensure_dataset(args.dir)
    files = 2 * sum(SPLIT_SIZES.values())
    content_fingerprint(args.dir)  # warm the page cache for both ways alike
    rows = [("size + mtime (stat), as ingest does", *timed(stat_fingerprint, args.dir,
                                                             args.passes)),
            ("SHA-256 of the contents", *timed(content_fingerprint, args.dir, args.passes))]
    ratio = rows[1][1] / rows[0][1]
    lines = [
        "# Ingest fingerprint: file stats against a contents hash",
        "",
        f"Measured {datetime.date.today().isoformat()} by `bench/fingerprint_bench.py` on "
        f"{platform.node() or 'this machine'} ({os.cpu_count()} cores, Python "
        f"{platform.python_version()}), one process, {args.passes} passes each, files in "
        "the page cache (just written and read once); load average "
        f"{os.getloadavg()[0]:.1f} (other work shared the machine).",
        "",
        f"{files:,} files ({sum(SPLIT_SIZES.values()):,} listed samples: an image and a trimap "
        f"each), {total / 1e6:,.0f} MB: the official dataset's count and size.",
        "",
        "| fingerprint | median s | min s | max s | CPU stolen |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, median, low, high, steal in rows:
        stolen = "n/a" if steal is None else f"{steal:.0%}"
        lines.append(f"| {name} | {median:.3f} | {low:.3f} | {high:.3f} | {stolen} |")
    lines += [
        "",
        f"Hashing the contents takes {ratio:.1f}x as long as the stats, on every run (a cached "
        "rerun too), and grows with the bytes, not the file count; from a cold disk it is "
        "bound by the disk's read rate (not measured here: dropping the page cache would "
        "disturb the other work on this machine). The stats catch every edit that changes a "
        "file's size or modification time (ns resolution), which every ordinary edit does; "
        "an edit that restores both (`touch -r`, a restore keeping times) is missed: "
        "`--no-cache` reruns ingest. Ingest uses the stats.",
        "",
    ]
    with open(args.out, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
