"""The real datasets' download and preparation, against a server on 127.0.0.1 that speaks the
Cityscapes portal's protocol (login form, package list, MD5, file-handling with Range), ACDC's
token API and a plain file host (Zenodo for SMIYC), serving small archives built here from the
demo writers. Expected contents come from the files that went into the archives."""

import base64
import hashlib
import io
import json
import tarfile
import threading
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from segrel.core import formats
from segrel.data import acquisition
from segrel.data.demo import writers
from segrel.data.download import DownloadError

USER, PASSWORD = "cs-user@example.org", "pa$$-w0rd-never-logged"


def _zip(root: Path, folders: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for folder in folders:
            for path in sorted((root / folder).rglob("*")):
                if path.is_file():
                    bundle.write(path, path.relative_to(root).as_posix())
    return buffer.getvalue()


def _corrupt(payload: bytes) -> bytes:
    """Same size, some bytes flipped inside the first member's data: only its CRC can tell."""
    data = bytearray(payload)
    for offset in range(200, 260):
        data[offset] ^= 0xFF
    return bytes(data)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Demo datasets in the real layouts and the archives the publishers serve."""
    root = tmp_path_factory.mktemp("sources")
    small = {"seed": 3, "height": 64, "width": 128}
    writers.write_cityscapes(root / "cityscapes", cities={"train": {"aachen": 2}, "val": {"lindau": 1}}, **small)
    writers.write_acdc(root / "acdc", conditions=["fog"], images={"train": 2, "val": 1}, **small)
    writers.write_smiyc(root / "smiyc", images=2, objects_per_image=[1, 1], **small)
    writers.write_coco(root / "coco", images={"train2017": 1, "val2017": 3}, **small)
    # the real RoadAnomaly21 archive also holds test images without labels
    (root / "smiyc" / "dataset_AnomalyTrack" / "images" / "airplane0000.jpg").write_bytes(
        (root / "smiyc" / "dataset_AnomalyTrack" / "images" / "validation0000.jpg").read_bytes())
    files = {
        "gtFine_trainvaltest.zip": _zip(root / "cityscapes", ["gtFine"]),
        "leftImg8bit_trainvaltest.zip": _zip(root / "cityscapes", ["leftImg8bit"]),
        "gt_trainval.zip": _zip(root / "acdc", ["gt"]),
        "rgb_anon_trainvaltest.zip": _zip(root / "acdc", ["rgb_anon"]),
        "dataset_AnomalyTrack.zip": _zip(root / "smiyc", ["dataset_AnomalyTrack"]),
        "val2017.zip": _zip(root / "coco", ["val2017"]),
        "annotations_trainval2017.zip": _zip(root / "coco", ["annotations"]),
    }
    return root, files


class Publisher(BaseHTTPRequestHandler):
    """server.files: archive name -> bytes; server.md5_override: name -> md5 the portal claims;
    server.truncate: names whose next download stops halfway; server.requests: paths seen."""

    def log_message(self, *args):
        pass

    def _send(self, body: bytes, status: int = 200, content_type: str = "application/octet-stream"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return body

    def _file(self, name: str):
        body, status = self.server.files[name], 200
        if self.headers.get("Range"):
            start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-"))
            body, status = body[start:], 206
        self._send(body, status)
        if name in self.server.truncate:
            self.server.truncate.discard(name)
            self.wfile.write(body[: len(body) // 2])
        else:
            self.wfile.write(body)

    def _session(self) -> str | None:
        cookie = self.headers.get("Cookie", "")
        return cookie.partition("PHPSESSID=")[2].partition(";")[0] or None

    def _logged_in(self) -> bool:
        return self._session() in self.server.authenticated

    def do_POST(self):
        """A login counts only for the session the login form's GET started (as the portal's)."""
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        self.server.requests.append(self.path)
        if (self.path == "/login" and self._session() in self.server.sessions
                and form.get("username") == [USER] and form.get("password") == [PASSWORD]):
            self.server.authenticated.add(self._session())
            self.send_response(302)
            self.send_header("Location", "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.wfile.write(self._send(b"<form>login</form>", content_type="text/html"))

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        self.server.requests.append(url.path)
        names = sorted(self.server.files)
        if url.path == "/login":
            session = uuid.uuid4().hex
            self.server.sessions.add(session)
            self.send_response(200)
            self.send_header("Set-Cookie", f"PHPSESSID={session}; Path=/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif url.path in ("/downloads/", "/md5-sum/", "/file-handling/") and not self._logged_in():
            self.wfile.write(self._send(b"login first", 403))
        elif url.path == "/downloads/":
            listing = [{"name": n, "packageID": str(i), "size": "1 MB", "thirdparty": "0"} for i, n in enumerate(names)]
            self.wfile.write(self._send(json.dumps(listing).encode(), content_type="application/json"))
        elif url.path in ("/md5-sum/", "/file-handling/"):
            name = names[int(query["packageID"][0])]
            if url.path == "/file-handling/":
                self._file(name)
            else:
                md5 = self.server.md5_override.get(name) or hashlib.md5(self.server.files[name]).hexdigest()
                self.wfile.write(self._send(f"{md5}  {name}\n".encode(), content_type="text/plain"))
        elif url.path == "/api/packages":
            listing = {"packages": [{"name": n, "packageId": f"id{i}"} for i, n in enumerate(names)]}
            self.wfile.write(self._send(json.dumps(listing).encode(), content_type="application/json"))
        elif url.path.startswith("/api/getPackageUri/"):
            token = uuid.uuid4().hex
            self.server.tokens[token] = names[int(url.path.rsplit("id", 1)[1])]
            self.wfile.write(self._send(json.dumps({"token": token}).encode(), content_type="application/json"))
        elif url.path.startswith("/api/downloadPackage/"):
            token, name = url.path.split("/")[3:5]
            if self.server.tokens.pop(token, None) != name:  # single-use tokens
                self.wfile.write(self._send(b"bad token", 403))
            else:
                self._file(name)
        elif url.path in ("/zips/val2017.zip", "/annotations/annotations_trainval2017.zip"):  # COCO's host
            self._file(url.path.rsplit("/", 1)[1])
        elif url.path.startswith("/record/5270237/files/"):
            self._file(url.path.rsplit("/", 1)[1])
        elif url.path.startswith("/private/"):  # a URL behind HTTP Basic auth (e.g. a lab's mirror)
            expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self.wfile.write(self._send(b"who are you", 401))
            else:
                self._file(url.path.rsplit("/", 1)[1])
        else:
            self.wfile.write(self._send(b"not found", 404))


@pytest.fixture
def publisher(sources):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Publisher)
    httpd.files, httpd.md5_override, httpd.truncate = dict(sources[1]), {}, set()
    httpd.requests, httpd.tokens, httpd.sessions, httpd.authenticated = [], {}, set(), set()
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def account(monkeypatch, tmp_path):
    monkeypatch.setenv("CITYSCAPES_USERNAME", USER)
    monkeypatch.setenv("CITYSCAPES_PASSWORD", PASSWORD)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


def _request(fmt, name, mirror, **extra):
    return {"format": fmt, "name": name, "location": None, "mirror": mirror, "checksum": None, **extra}


def _obtain_all(fmt, mirror, into: Path, logged: list, **extra) -> list[Path]:
    return [acquisition.obtain_archive(_request(fmt, name, mirror, **extra), into / name, log=logged.append)
            for name in acquisition.source(fmt).package_names]


def _same_files(prepared: Path, original: Path, folders: list[str]) -> None:
    for folder in folders:
        expected = sorted(p.relative_to(original) for p in (original / folder).rglob("*") if p.is_file())
        assert expected and expected == sorted(p.relative_to(prepared) for p in (prepared / folder).rglob("*")
                                               if p.is_file())
        for relative in expected:
            assert (prepared / relative).read_bytes() == (original / relative).read_bytes()


def test_cityscapes_portal_login_md5_and_preparation(sources, publisher, account, tmp_path):
    httpd, base = publisher
    logged = []
    archives = _obtain_all("cityscapes", base, tmp_path / "archives", logged)
    assert "/login" in httpd.requests and "/md5-sum/" in httpd.requests
    manifest = acquisition.prepare_dataset("cityscapes", archives, tmp_path / "cityscapes",
                                           replaceable=[True, True], log=logged.append)
    _same_files(tmp_path / "cityscapes", sources[0] / "cityscapes", ["leftImg8bit", "gtFine"])
    assert manifest["samples"] == {"train": 2, "val": 1}
    assert json.loads((tmp_path / "cityscapes" / "SOURCE.json").read_text())["archives"][1]["sha256"] == \
        hashlib.sha256(sources[1]["leftImg8bit_trainvaltest.zip"]).hexdigest()
    samples = formats.list_samples("cityscapes", tmp_path / "cityscapes", "val")
    assert [s.name for s in samples] == ["lindau_000000_000019"]
    assert not any(PASSWORD in line or USER in line for line in logged)
    assert not list(tmp_path.glob(".cityscapes.*"))  # no scratch folder left


def test_cityscapes_refused_login_and_missing_credentials(publisher, monkeypatch, tmp_path):
    _, base = publisher
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.delenv("CITYSCAPES_USERNAME", raising=False)
    monkeypatch.delenv("CITYSCAPES_PASSWORD", raising=False)
    request = _request("cityscapes", "gtFine_trainvaltest.zip", base)
    with pytest.raises(DownloadError, match=r"set CITYSCAPES_USERNAME and CITYSCAPES_PASSWORD, or add 'machine 127"):
        acquisition.obtain_archive(request, tmp_path / "a.zip", log=print)
    monkeypatch.setenv("CITYSCAPES_USERNAME", USER)
    monkeypatch.setenv("CITYSCAPES_PASSWORD", "wrong-password-123")
    with pytest.raises(DownloadError, match=r"login refused .*cityscapes-dataset.com/register") as refused:
        acquisition.obtain_archive(request, tmp_path / "a.zip", log=print)
    assert "wrong-password-123" not in str(refused.value) and not list(tmp_path.glob("a.zip*"))
    # the same account from ~/.netrc works
    monkeypatch.delenv("CITYSCAPES_USERNAME")
    monkeypatch.delenv("CITYSCAPES_PASSWORD")
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert acquisition.obtain_archive(request, tmp_path / "a.zip", log=print).is_file()


def test_wrong_published_checksum_leaves_nothing(publisher, account, tmp_path):
    httpd, base = publisher
    httpd.md5_override["gtFine_trainvaltest.zip"] = "0" * 32
    with pytest.raises(DownloadError, match=r"checksum mismatch \(md5 .*expected 0000"):
        acquisition.obtain_archive(_request("cityscapes", "gtFine_trainvaltest.zip", base), tmp_path / "a.zip",
                                   log=print)
    assert list(tmp_path.iterdir()) == []


def test_truncated_download_resumes_on_the_next_run(sources, publisher, tmp_path):
    httpd, base = publisher
    httpd.truncate.add("gt_trainval.zip")
    request = _request("acdc", "gt_trainval.zip", base)
    with pytest.raises(DownloadError, match="run again to resume"):
        acquisition.obtain_archive(request, tmp_path / "gt_trainval.zip", log=print)
    assert not (tmp_path / "gt_trainval.zip").exists() and (tmp_path / "gt_trainval.zip.part").exists()
    acquisition.obtain_archive(request, tmp_path / "gt_trainval.zip", log=print)  # a fresh token, then Range
    assert (tmp_path / "gt_trainval.zip").read_bytes() == sources[1]["gt_trainval.zip"]


def test_acdc_token_api_and_corrupt_archive_without_checksum(sources, publisher, tmp_path):
    httpd, base = publisher
    httpd.files["gt_trainval.zip"] = _corrupt(sources[1]["gt_trainval.zip"])  # ACDC publishes no MD5 for it
    logged = []
    archives = _obtain_all("acdc", base, tmp_path / "archives", logged)
    assert any("no published checksum; to pin this file add checksums" in line for line in logged)
    assert any(hashlib.sha256(httpd.files["gt_trainval.zip"]).hexdigest() in line for line in logged)  # to pin
    with pytest.raises(DownloadError, match=r"gt_trainval.zip is corrupt .*deleted it; run the workflow again"):
        acquisition.prepare_dataset("acdc", archives, tmp_path / "acdc", replaceable=[True, True], log=print)
    assert not (tmp_path / "acdc").exists() and not list(tmp_path.glob(".acdc.*"))
    assert not archives[0].exists() and archives[1].exists()
    httpd.files["gt_trainval.zip"] = sources[1]["gt_trainval.zip"]
    acquisition.obtain_archive(_request("acdc", "gt_trainval.zip", base), archives[0], log=print)
    acquisition.prepare_dataset("acdc", archives, tmp_path / "acdc", replaceable=[True, True], log=print)
    _same_files(tmp_path / "acdc", sources[0] / "acdc", ["rgb_anon", "gt"])


def test_smiyc_from_zenodo_mirror_keeps_the_labelled_validation_images(sources, publisher, tmp_path):
    _, base = publisher
    # the real archive's published MD5 is checked when the config pins nothing
    with pytest.raises(DownloadError, match=r"checksum mismatch \(md5 .*expected 231bf79e"):
        acquisition.obtain_archive(_request("smiyc", "dataset_AnomalyTrack.zip", base), tmp_path / "x.zip", log=print)
    md5 = hashlib.md5(sources[1]["dataset_AnomalyTrack.zip"]).hexdigest()
    archive = acquisition.obtain_archive(_request("smiyc", "dataset_AnomalyTrack.zip", base, checksum="md5:" + md5),
                                         tmp_path / "a" / "dataset_AnomalyTrack.zip", log=print)
    (tmp_path / ".smiyc.k1ll3d.partial" / "leftover").mkdir(parents=True)  # a killed job's scratch folder
    manifest = acquisition.prepare_dataset("smiyc", [archive], tmp_path / "smiyc", replaceable=[True], log=print)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "smiyc"]
    assert manifest["samples"] == {"validation": 2}  # airplane0000.jpg (a test image) has no label
    label = formats.read_label("smiyc", formats.list_samples("smiyc", tmp_path / "smiyc", "validation")[0].label)
    original = np.asarray(__import__("PIL.Image").Image.open(
        sources[0] / "smiyc" / "dataset_AnomalyTrack" / "labels_masks" / "validation0000_labels_semantic.png"))
    np.testing.assert_array_equal(label, original)


def test_coco_val2017_from_its_host_with_the_published_md5s(sources, publisher, tmp_path):
    httpd, base = publisher
    with pytest.raises(DownloadError, match=r"checksum mismatch \(md5 .*expected 442b8da7"):
        acquisition.obtain_archive(_request("coco", "val2017.zip", base), tmp_path / "x.zip", log=print)
    pins = {name: "md5:" + hashlib.md5(sources[1][name]).hexdigest()
            for name in ("val2017.zip", "annotations_trainval2017.zip")}
    archives = [acquisition.obtain_archive(_request("coco", name, base, checksum=pins[name]), tmp_path / "a" / name,
                                           log=print) for name in acquisition.source("coco").package_names]
    assert {"/zips/val2017.zip", "/annotations/annotations_trainval2017.zip"} <= set(httpd.requests)
    manifest = acquisition.prepare_dataset("coco", archives, tmp_path / "coco", replaceable=[True, True], log=print)
    assert manifest["samples"] == {"val2017": 3}
    _same_files(tmp_path / "coco", sources[0] / "coco", ["val2017", "annotations"])
    samples = formats.list_samples("coco", tmp_path / "coco", "val2017")
    assert {sample.label for sample in samples} == {tmp_path / "coco" / "annotations" / "instances_val2017.json"}
    with pytest.raises(ValueError, match="has boxes .*not label images"):
        formats.read_label("coco", samples[0].label)
    # an archive without the annotations: the images alone are not a dataset
    with pytest.raises(DownloadError, match="hold no annotations/ folder"):
        acquisition.prepare_dataset("coco", archives[:1], tmp_path / "c2", replaceable=[False], log=print)


def _idd_archive(path: Path) -> None:
    """An IDD segmentation tarball as the site ships it: images and polygon JSON under IDD_Segmentation/."""
    from PIL import Image

    with tarfile.open(path, "w:gz") as bundle:
        def add(name, data):
            info = tarfile.TarInfo(f"IDD_Segmentation/{name}")
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))

        for split in ("train", "val"):
            image = io.BytesIO()
            Image.fromarray(np.zeros((8, 12, 3), np.uint8)).save(image, format="PNG")
            add(f"leftImg8bit/{split}/0/000100_leftImg8bit.png", image.getvalue())
            polygons = {"imgHeight": 8, "imgWidth": 12, "objects": [
                {"label": "road", "polygon": [[0, 4], [11, 4], [11, 7], [0, 7]]},
                {"label": "autorickshaw", "polygon": [[2, 5], [4, 5], [4, 6], [2, 6]]}]}
            add(f"gtFine/{split}/0/000100_gtFine_polygons.json", json.dumps(polygons).encode())


def test_idd_from_archive_on_disk_renders_level3_labels(tmp_path):
    archive = tmp_path / "downloads" / "idd-segmentation.tar.gz"
    archive.parent.mkdir()
    _idd_archive(archive)
    request = {"format": "idd", "name": archive.name, "location": str(archive), "checksum": None}
    logged = []
    linked = acquisition.obtain_archive(request, tmp_path / "archives" / archive.name, log=logged.append)
    assert linked.is_symlink() and any("pin it with checksums" in line for line in logged)
    acquisition.prepare_dataset("idd", [linked], tmp_path / "idd", replaceable=[False], log=print)
    (sample,) = formats.list_samples("idd", tmp_path / "idd", "val")
    expected = np.full((8, 12), 255, np.uint8)  # unlabeled
    expected[4:8, :] = 0  # road -> train id 0
    expected[5:7, 2:5] = 255  # autorickshaw: Cityscapes has no such class
    np.testing.assert_array_equal(formats.read_label("idd", sample.label), expected)
    assert formats.local_ood_mask("idd", formats.read_ids(sample.label)).sum() == 6
    # a user's archive that turns out corrupt is named, never deleted
    archive.write_bytes(archive.read_bytes()[:100])
    with pytest.raises(DownloadError, match="corrupt or truncated .*replace it with a good copy"):
        acquisition.prepare_dataset("idd", [linked], tmp_path / "idd2", replaceable=[False], log=print)
    assert archive.exists() and not (tmp_path / "idd2").exists()
    missing = dict(request, location=str(tmp_path / "nowhere.tar.gz"))
    with pytest.raises(DownloadError, match=r"does not exist: get it at https://idd.insaan.iiit.ac.in/dataset/download"):
        acquisition.obtain_archive(missing, tmp_path / "archives" / "other.tar.gz", log=print)


def test_idd_from_a_url_with_credentials_from_the_environment(publisher, monkeypatch, tmp_path):
    httpd, base = publisher
    _idd_archive(tmp_path / "idd.tar.gz")
    httpd.files["idd-segmentation.tar.gz"] = (tmp_path / "idd.tar.gz").read_bytes()
    request = {"format": "idd", "name": "idd-segmentation.tar.gz", "checksum": None,
               "location": f"{base}/private/idd-segmentation.tar.gz", "credential_prefix": "IDD"}
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.delenv("IDD_USERNAME", raising=False)
    refused = r"HTTP 401.*Credentials come from IDD_USERNAME and IDD_PASSWORD or ~/.netrc"
    with pytest.raises(DownloadError, match=refused):
        acquisition.obtain_archive(request, tmp_path / "a" / "idd-segmentation.tar.gz", log=print)
    monkeypatch.setenv("IDD_USERNAME", USER)
    monkeypatch.setenv("IDD_PASSWORD", PASSWORD)
    archive = acquisition.obtain_archive(request, tmp_path / "a" / "idd-segmentation.tar.gz", log=print)
    assert not archive.is_symlink()
    manifest = acquisition.prepare_dataset("idd", [archive], tmp_path / "idd", replaceable=[True], log=print)
    assert manifest["samples"] == {"train": 1, "val": 1}


def test_config_refuses_a_download_that_does_not_exist_and_credentials_in_urls():
    from segrel.config import ConfigError, validate_config

    schema = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
    with pytest.raises(ConfigError, match=r"datasets.idd.source': idd cannot be downloaded by script; get "
                                          r"idd-segmentation.tar.gz at https://idd"):
        validate_config({"datasets": {"idd": {"format": "idd", "source": "download"}},
                         "test_sets": {"i": {"dataset": "idd"}}}, schema)
    with pytest.raises(ConfigError, match=r"credentials do not belong in a URL .*IDD_USERNAME"):
        validate_config({"datasets": {"idd": {"format": "idd", "source": "archives",
                                              "archives": {"a.tar.gz": "https://me:pw@example.org/a.tar.gz"}}},
                         "test_sets": {"i": {"dataset": "idd"}}}, schema)
    with pytest.raises(ConfigError, match=r"a URL with a query string usually carries a personal token"):
        validate_config({"datasets": {"idd": {"format": "idd", "source": "archives",
                                              "archives": {"a.tar.gz": "https://example.org/a.tar.gz?token=x"}}},
                         "test_sets": {"i": {"dataset": "idd"}}}, schema)
    with pytest.raises(ConfigError, match=r"datasets.idd.*archives"):  # source archives needs archives
        validate_config({"datasets": {"idd": {"format": "idd", "source": "archives"}},
                         "test_sets": {"i": {"dataset": "idd"}}}, schema)


def test_workflow_downloads_and_prepares_without_leaking_credentials(sources, publisher, account, snakemake,
                                                                      tiny_study, tmp_path):
    """The data stage through Snakemake: Cityscapes from the portal, IDD from disk (missing at
    first: the dry run still builds the DAG, the real run names where to get it)."""
    _, base = publisher
    config = tiny_study({"domains": {}})
    config["datasets"] = {
        "cityscapes": {"format": "cityscapes", "source": "download", "mirror": base},
        "idd": {"format": "idd", "source": "archives",
                "archives": {"idd-segmentation.tar.gz": "downloads/idd-segmentation.tar.gz"}}}
    workdir = tmp_path / "run"
    workdir.mkdir()
    dry = snakemake(workdir, config, "-n", "data")
    assert "fetch_dataset_archive" in dry.stdout and "prepare_dataset" in dry.stdout
    failed = snakemake(workdir, config, "--cores", "2", "data", check=False)
    assert failed.returncode != 0
    log = (workdir / "results/logs/data/fetch_dataset_archive/idd/idd-segmentation.tar.gz.log").read_text()
    assert "does not exist: get it at https://idd.insaan.iiit.ac.in" in log
    (workdir / "downloads").mkdir()
    _idd_archive(workdir / "downloads" / "idd-segmentation.tar.gz")
    snakemake(workdir, config, "--cores", "2", "data")
    _same_files(workdir / "resources/datasets/cityscapes", sources[0] / "cityscapes", ["leftImg8bit", "gtFine"])
    assert formats.list_samples("idd", workdir / "resources/datasets/idd", "val")
    # every file the run wrote (logs, benchmarks, Snakemake's metadata, the data), archives aside
    written = [p for p in workdir.rglob("*") if p.is_file() and not p.is_symlink() and "archives" not in p.parts]
    assert len(written) > 20
    for path in written:
        assert PASSWORD.encode() not in path.read_bytes(), path
