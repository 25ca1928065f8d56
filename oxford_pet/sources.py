"""Where a local run's data comes from, made ready on disk before the pipeline starts.

Four sources (local_runner.py's flags choose one):
- DOWNLOAD: the official archives, downloaded, verified and extracted (download.py);
- DIR: a directory as the archives unpack it, or one holding the two archives (extracted);
- DEMO: generated data in the real layout (demo.py), written once per count;
- TFDS: TensorFlow Datasets' oxford_iiit_pet, 3.x or 4.x, as prepared under a TFDS data
  directory; when none is, prepared there with TFDS's own builder from the official archives
  (downloaded and verified as for DOWNLOAD): tfds_dataset.py.

`DataSource.data_dir()` says where the pipeline will read before anything is downloaded or
written, so the whole configuration can be checked first; `check()` finds what is wrong without
writing anything; `prepare()` makes it so.
"""

import dataclasses
import os
from typing import Optional

from oxford_pet import download, layout, tfds_dataset
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
    tfds_version: Optional[str] = None  # TFDS: "3", "4.0.0", "3.*.*"...; None: the newest

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
            version = tfds_dataset.choose(self.path, self.tfds_version)
            return os.path.join(files.absolute(self.path), tfds_dataset.NAME,
                                version or self._buildable_tfds_version())
        if self.kind == DOWNLOAD or self.holds_archives():
            return os.path.join(os.path.abspath(self.download_dir), download.EXTRACTED)
        return files.absolute(self.path)

    def check(self) -> None:
        """ValueError for a source that is missing or empty, where that shows without
        downloading or writing anything."""
        if self.kind == TFDS:
            if not tfds_dataset.choose(self.path, self.tfds_version):
                self._buildable_tfds_version()
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
        elif self.kind == TFDS:
            self._prepare_tfds()
        if self.pipeline_kind == "dir":
            layout.check_dataset(data_dir, self.span_pattern)
        return data_dir


    def _buildable_tfds_version(self) -> str:
        """The version the installed TFDS prepares, when it is the one asked for; else
        ValueError saying what was found and what would prepare the one asked for."""
        found = tfds_dataset.prepared_versions(self.path)
        made = tfds_dataset.builder_version()
        if tfds_dataset.matches(made, self.tfds_version):
            return made
        seen = (f"found {', '.join(found)} under {self.path}" if found else
                f"nothing prepared under {self.path}")
        raise ValueError(f"no TFDS {tfds_dataset.NAME} {self.tfds_version} ({seen}); "
                         f"{tfds_dataset.cannot_build(self.tfds_version)}"
                         + (f"; or read what is there: --tfds-version {found[-1]}"
                            if found else ""))

    def _prepare_tfds(self) -> None:
        version = tfds_dataset.choose(self.path, self.tfds_version)
        if version is None:
            print(f"Data: no TFDS {tfds_dataset.NAME} under {self.path}: preparing "
                  f"{tfds_dataset.builder_version()} with TFDS {tfds_dataset.tfds_version()}'s "
                  f"own builder from the official archives (from {self.base_url}, into "
                  f"{os.path.abspath(self.download_dir)})", flush=True)
            extracted = download.fetch_official(os.path.abspath(self.download_dir),
                                                self.base_url, download.ProgressLine(),
                                                archives=download.ARCHIVES)
            prepared = tfds_dataset.prepare(
                self.path, extracted, {key: archive.name
                                       for key, archive in download.ARCHIVES.items()})
        else:
            prepared = tfds_dataset.read(self.path, version)
        if prepared.file_format != "tfrecord":
            raise ValueError(f"TFDS {tfds_dataset.NAME} {prepared.version} in {prepared.path} "
                             f"was prepared as {prepared.file_format}: the pipeline reads "
                             "tfrecord shards; prepare it again with the default file format")
        others = [v for v in tfds_dataset.prepared_versions(self.path) if v != prepared.version]
        print(f"Data: TFDS {tfds_dataset.NAME} {prepared.version} in {prepared.path}: "
              f"train {prepared.examples['train']:,} examples (TFDS's 'train'), eval "
              f"{prepared.examples['eval']:,} (TFDS's 'test')"
              + (f"; also prepared: {', '.join(others)} (--tfds-version)" if others else ""),
              flush=True)


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
