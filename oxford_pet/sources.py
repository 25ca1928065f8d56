"""Where a local run's data comes from, made ready on disk before the pipeline starts.

Four sources (local_runner.py's flags choose one):
- DOWNLOAD: the official archives, downloaded, verified and extracted (download.py);
- DIR: a directory as the archives unpack it, or one holding the two archives (extracted);
- DEMO: generated data in the real layout (demo.py), written once per count;
- TFDS: a prepared TFDS oxford_iiit_pet 4.x.y directory.

`DataSource.data_dir()` says where the pipeline will read before anything is downloaded or
written, so the whole configuration can be checked first; `check()` finds what is wrong without
writing anything; `prepare()` makes it so.
"""

import dataclasses
import os
from typing import Optional

from oxford_pet import download, layout
from storage import files

DOWNLOAD, DIR, DEMO, TFDS = "download", "dir", "demo", "tfds"
DEMO_COUNT = 400
DEMO_MARKER = ".demo-complete"  # holds the count of a completely generated demo dataset


@dataclasses.dataclass(frozen=True)
class DataSource:
    kind: str  # DOWNLOAD, DIR, DEMO or TFDS
    download_dir: str  # DOWNLOAD, and DIR holding archives: where they are extracted
    path: Optional[str] = None  # DIR: the directory; DEMO: where to generate; TFDS: data dir
    span_pattern: Optional[str] = None  # DIR: numbered spans, e.g. "span-{SPAN}"
    demo_count: int = DEMO_COUNT
    base_url: str = download.DEFAULT_BASE_URL

    @property
    def pipeline_kind(self) -> str:
        """What the pipeline reads: TFDS records ("tfds") or the dataset's layout ("dir")."""
        return "tfds" if self.kind == TFDS else "dir"

    def holds_archives(self) -> bool:
        """A DIR holding the two archives rather than what they unpack to."""
        return (self.kind == DIR and files.isdir(self.path) and download.has_archives(self.path)
                and not files.isdir(os.path.join(self.path, layout.ANNOTATIONS_DIR)))

    def data_dir(self) -> str:
        """The directory the pipeline will read once `prepare()` ran (TFDS: ValueError when
        there is no prepared dataset)."""
        if self.kind == TFDS:
            return find_tfds_dataset(self.path)
        if self.kind == DOWNLOAD or self.holds_archives():
            return os.path.join(os.path.abspath(self.download_dir), download.EXTRACTED)
        return files.absolute(self.path)

    def check(self) -> None:
        """ValueError for a source that is missing or empty, where that shows without
        downloading or writing anything."""
        if self.kind == TFDS:
            find_tfds_dataset(self.path)
        elif self.kind == DIR and not download.has_archives(self.path):
            layout.check_dataset(files.absolute(self.path), self.span_pattern)

    def prepare(self) -> str:
        """Makes the data available on disk and checks its layout; returns `data_dir()`.

        DownloadError when a download or extraction fails, ValueError for a wrong dataset."""
        data_dir = self.data_dir()
        if self.kind == DEMO:
            ensure_demo_data(data_dir, self.demo_count)
        elif self.kind == DOWNLOAD:
            print(f"Data: the official Oxford-IIIT Pet archives from {self.base_url} "
                  f"(into {os.path.abspath(self.download_dir)}; --demo runs offline)",
                  flush=True)
            download.fetch_official(os.path.abspath(self.download_dir), self.base_url,
                                    download.ProgressLine())
        elif self.holds_archives():
            download.prepare_from_archives(files.absolute(self.path), data_dir)
        if self.pipeline_kind == "dir":
            layout.check_dataset(data_dir, self.span_pattern)
        return data_dir


def ensure_demo_data(data_dir: str, count: int) -> None:
    """Generates the demo dataset unless a complete one with the same count is there."""
    from oxford_pet import demo

    marker = os.path.join(data_dir, DEMO_MARKER)
    if os.path.exists(marker) and open(marker).read().strip() == str(count):
        print(f"Demo data: {count} images in {data_dir} (already generated)", flush=True)
        return
    print(f"Demo data: generating {count} images in {data_dir}", flush=True)
    demo.make_demo_data(data_dir, count, progress=lambda done, total: done % 100 == 0 and
                        print(f"  {done}/{total}", flush=True))
    with open(marker, "w") as handle:
        handle.write(str(count))


def find_tfds_dataset(tfds_data_dir: str) -> str:
    """The newest prepared oxford_iiit_pet 4.x.y directory under a TFDS data directory."""
    versions = sorted(files.glob(os.path.join(tfds_data_dir, "oxford_iiit_pet", "4.*")),
                      key=lambda path: [int(p) for p in os.path.basename(path).split(".")
                                        if p.isdigit()])
    if not versions:
        raise ValueError(f"no prepared TFDS oxford_iiit_pet 4.x under {tfds_data_dir}: run "
                         "`tfds build oxford_iiit_pet` there first, or pass --tfds-data-dir")
    return versions[-1]
