"""oxford_pet/download.py against a local HTTP server on 127.0.0.1, and archives built here
in the official format: resume, checksum refusal, no re-download, safe extraction."""

import hashlib
import http.server
import io
import os
import tarfile
import threading

import pytest

from oxford_pet import download, layout


class _Server(http.server.ThreadingHTTPServer):
    files: dict  # path -> bytes
    requests: list  # (path, Range header or None)
    cut_after: int = 0  # if set, send only this many bytes of a full response, then close


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        data = server.files.get(self.path)
        server.requests.append((self.path, self.headers.get("Range")))
        if data is None:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.cut_after and not start:
            self.wfile.write(body[: server.cut_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests = {}, []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _archive_for(name: str, data: bytes) -> download.Archive:
    return download.Archive(name, len(data), hashlib.sha256(data).hexdigest())


def _url(server, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def test_interrupted_download_resumes_then_is_not_downloaded_again(server, tmp_path):
    data = os.urandom(3 * download.CHUNK + 123)
    archive = _archive_for("annotations.tar.gz", data)
    server.files["/pets/annotations.tar.gz"] = data
    server.cut_after = download.CHUNK + 10  # the first response breaks off
    target = str(tmp_path / "annotations.tar.gz")
    url = _url(server, "/pets/annotations.tar.gz")

    with pytest.raises(download.DownloadError, match="partial file .* is kept"):
        download.download(url, target, archive)
    partial = os.path.getsize(target + ".part")
    assert 0 < partial < len(data)

    server.cut_after = 0
    download.download(url, target, archive)
    assert server.requests[-1] == ("/pets/annotations.tar.gz", f"bytes={partial}-")  # resumed
    assert open(target, "rb").read() == data
    assert not os.path.exists(target + ".part")

    count = len(server.requests)
    download.download(url, target, archive)  # verified already: no request at all
    assert len(server.requests) == count


def test_checksum_mismatch_is_refused_and_the_file_not_used(server, tmp_path):
    good = os.urandom(5000)
    archive = _archive_for("images.tar.gz", good)
    server.files["/images.tar.gz"] = bytes(reversed(good))  # same size, other content
    target = str(tmp_path / "images.tar.gz")
    with pytest.raises(download.DownloadError, match="SHA-256 .* expected"):
        download.download(_url(server, "/images.tar.gz"), target, archive)
    assert not os.path.exists(target)
    assert os.path.exists(target + ".bad")
    assert not download.is_verified(target, archive)


def test_unreachable_server_gives_a_clear_error(tmp_path):
    archive = download.Archive("images.tar.gz", 10, "0" * 64)
    with pytest.raises(download.DownloadError, match="download the archives yourself"):
        download.download("http://127.0.0.1:9/images.tar.gz", str(tmp_path / "x"), archive,
                          timeout=5)


def _tar_gz(members: dict) -> bytes:
    """A tar.gz holding {name: bytes}."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _official_archives(data_dir: str) -> dict:
    """images.tar.gz and annotations.tar.gz holding a generated dataset, as the real ones do."""
    result = {}
    for key in ("images", "annotations"):
        members = {}
        for root, _, files in os.walk(os.path.join(data_dir, key)):
            for name in files:
                path = os.path.join(root, name)
                members[os.path.relpath(path, data_dir)] = open(path, "rb").read()
        result[key] = _tar_gz(members)
    return result


def test_fetch_official_downloads_verifies_and_extracts_the_layout(server, small_dataset,
                                                                   tmp_path):
    archives = {}
    for key, data in _official_archives(small_dataset).items():
        archives[key] = _archive_for(f"{key}.tar.gz", data)
        server.files[f"/mirror/{key}.tar.gz"] = data
    data_dir = download.fetch_official(str(tmp_path / "cache"), _url(server, "/mirror/"),
                                       progress=None, archives=archives)
    for entry in layout.read_list(os.path.join(data_dir, layout.LIST_FILE)):
        for path in (layout.image_path(data_dir, entry.name),
                     layout.trimap_path(data_dir, entry.name)):
            original = path.replace(data_dir, small_dataset)
            assert open(path, "rb").read() == open(original, "rb").read()
    count = len(server.requests)
    assert download.fetch_official(str(tmp_path / "cache"), _url(server, "/mirror/"),
                                   progress=None, archives=archives) == data_dir
    assert len(server.requests) == count  # nothing fetched the second time


def test_extraction_refuses_members_escaping_the_target(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(_tar_gz({"annotations/list.txt": b"x", "../escaped.txt": b"y"}))
    with pytest.raises(download.DownloadError, match="outside"):
        download.extract(str(archive), str(tmp_path / "out"))
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "out").exists()


def test_extraction_refuses_links(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        link = tarfile.TarInfo("images/link.jpg")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    archive = tmp_path / "links.tar.gz"
    archive.write_bytes(buffer.getvalue())
    with pytest.raises(download.DownloadError, match="link or special file"):
        download.extract(str(archive), str(tmp_path / "out"))


def test_archives_the_user_has_are_verified_before_use(small_dataset, tmp_path):
    built = _official_archives(small_dataset)
    archives = {key: _archive_for(f"{key}.tar.gz", data) for key, data in built.items()}
    for key, data in built.items():
        (tmp_path / f"{key}.tar.gz").write_bytes(data)
    damaged = bytearray(built["images"])
    damaged[100] ^= 0xFF  # one flipped byte, same size
    (tmp_path / "images.tar.gz").write_bytes(bytes(damaged))
    with pytest.raises(download.DownloadError, match="images.tar.gz has SHA-256"):
        download.prepare_from_archives(str(tmp_path), str(tmp_path / "data"), archives)
    assert not (tmp_path / "data" / "images").exists()


def test_tfds_with_nothing_prepared_is_prepared_from_the_verified_archives(
        server, small_dataset, tmp_path, monkeypatch, capsys):
    """`--tfds` with an empty TFDS data directory: the official archives (here generated, and
    served by a local mirror) are downloaded and verified once, and TFDS's own builder
    prepares the installed TFDS's version from them; TFDS fetches nothing itself."""
    from oxford_pet import sources, tfds_dataset

    archives = {}
    for key, data in _official_archives(small_dataset).items():
        archives[key] = _archive_for(f"{key}.tar.gz", data)
        server.files[f"/mirror/{key}.tar.gz"] = data
    monkeypatch.setattr(download, "ARCHIVES", archives)
    tfds_dir = str(tmp_path / "tensorflow_datasets")
    source = sources.DataSource(sources.TFDS, str(tmp_path / "downloads"), path=tfds_dir,
                                base_url=_url(server, "/mirror/"))
    source.check()  # nothing there, and the installed TFDS prepares the newest: fine
    version = tfds_dataset.builder_version()
    assert source.data_dir() == os.path.join(tfds_dir, "oxford_iiit_pet", version)
    assert source.prepare() == source.data_dir()
    printed = capsys.readouterr().out
    assert (f"no TFDS oxford_iiit_pet under {tfds_dir}: preparing {version} with TFDS "
            f"{tfds_dataset.tfds_version()}'s own builder from the official archives") in printed
    listed = len(layout.read_list(os.path.join(small_dataset, layout.SPLIT_LISTS["train"])))
    assert (f"Data: TFDS oxford_iiit_pet {version} in {source.data_dir()}: train {listed} "
            "examples") in printed
    assert sorted(path for path, _ in server.requests) == ["/mirror/annotations.tar.gz",
                                                           "/mirror/images.tar.gz"]
    assert tfds_dataset.prepared_versions(tfds_dir) == [version]
    source.prepare()  # prepared: read, nothing downloaded or built again
    assert len(server.requests) == 2 and "preparing" not in capsys.readouterr().out
