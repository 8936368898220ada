"""segrel.data.download against a server on 127.0.0.1 that the test runs: good, resumed, truncated,
corrupt, wrong-checksum and unauthorised downloads (expected digests from hashlib directly)."""

import base64
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from segrel.data.download import DownloadError, credentials, fetch

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()
USER, PASSWORD = "alice", "s3cret-pw"


class Handler(BaseHTTPRequestHandler):
    """/file: the payload with Range support; /truncated: announces it all, sends half;
    /private: the payload behind HTTP Basic auth; /norange: ignores Range."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.requests.append(dict(self.headers))
        if self.path == "/chunked-drop":  # no Content-Length: only the broken chunking tells
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n%s\r\n" % (1000, PAYLOAD[:1000]))
            self.wfile.flush()
            self.connection.shutdown(2)  # the connection drops before the last chunk
            return
        if self.path == "/moved":  # e.g. to a CDN on another host
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{self.server.server_address[1]}/file")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/private":
            expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.end_headers()
                return
        body, status, start = PAYLOAD, 200, 0
        if self.headers.get("Range") and self.path != "/norange":
            start = int(self.headers["Range"].removeprefix("bytes=").rstrip("-"))
            if start >= len(PAYLOAD):
                self.send_response(416)
                self.end_headers()
                return
            body, status = PAYLOAD[start:], 206
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if self.path == "/truncated" else body)


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.requests = []
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_good_download_is_verified_and_atomic(server, tmp_path):
    _, base = server
    path = fetch(f"{base}/file", tmp_path / "a.bin", checksum="sha256:" + DIGEST, log=lambda m: None)
    assert path.read_bytes() == PAYLOAD and not (tmp_path / "a.bin.part").exists()
    assert fetch(f"{base}/file", tmp_path / "b.bin", checksum="SHA256:" + DIGEST[:8], log=lambda m: None).exists()
    md5 = hashlib.md5(PAYLOAD).hexdigest()  # what Cityscapes, ACDC and Zenodo publish
    assert fetch(f"{base}/file", tmp_path / "c.bin", checksum="md5:" + md5, log=lambda m: None).exists()


def test_interrupted_download_resumes_with_a_range_request(server, tmp_path):
    httpd, base = server
    (tmp_path / "c.bin.part").write_bytes(PAYLOAD[:1000])
    httpd.requests.clear()
    fetch(f"{base}/file", tmp_path / "c.bin", checksum="sha256:" + DIGEST, log=lambda m: None)
    assert httpd.requests[0]["Range"] == "bytes=1000-"
    assert (tmp_path / "c.bin").read_bytes() == PAYLOAD
    # a server that ignores Range: the download starts again rather than appending twice
    (tmp_path / "d.bin.part").write_bytes(PAYLOAD[:1000])
    fetch(f"{base}/norange", tmp_path / "d.bin", checksum="sha256:" + DIGEST, log=lambda m: None)
    assert (tmp_path / "d.bin").read_bytes() == PAYLOAD


def test_truncated_download_keeps_the_part_and_says_resume(server, tmp_path):
    _, base = server
    with pytest.raises(DownloadError, match=r"interrupted after 524288 of 1048576 bytes; run again to resume"):
        fetch(f"{base}/truncated", tmp_path / "e.bin", checksum="sha256:" + DIGEST, log=lambda m: None)
    assert not (tmp_path / "e.bin").exists() and (tmp_path / "e.bin.part").stat().st_size == len(PAYLOAD) // 2
    # resumes to the whole file
    fetch(f"{base}/file", tmp_path / "e.bin", checksum="sha256:" + DIGEST, log=lambda m: None)
    assert (tmp_path / "e.bin").read_bytes() == PAYLOAD


def test_wrong_checksum_or_corrupt_part_leaves_nothing(server, tmp_path):
    _, base = server
    with pytest.raises(DownloadError, match="checksum mismatch"):
        fetch(f"{base}/file", tmp_path / "f.bin", checksum="sha256:00000000", log=lambda m: None)
    with pytest.raises(DownloadError, match=r"checksum mismatch \(md5 "):
        fetch(f"{base}/file", tmp_path / "f.bin", checksum="md5:" + DIGEST[:32], log=lambda m: None)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "g.bin.part").write_bytes(b"garbage" * 100)  # a corrupt partial file
    with pytest.raises(DownloadError, match="checksum mismatch"):
        fetch(f"{base}/file", tmp_path / "g.bin", checksum="sha256:" + DIGEST, log=lambda m: None)
    assert list(tmp_path.iterdir()) == []


def test_unauthorised_and_credentials_never_shown(server, tmp_path, monkeypatch):
    _, base = server
    url = f"{base}/private"
    with pytest.raises(DownloadError, match="HTTP 401") as refused:
        fetch(url, tmp_path / "h.bin", auth=(USER, "wrong"), log=lambda m: None)
    assert "wrong" not in str(refused.value)
    monkeypatch.delenv("SEGREL_USER", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    with pytest.raises(DownloadError, match=r"set SEGREL_USER and SEGREL_PASSWORD, or add 'machine 127.0.0.1"):
        credentials(url, "SEGREL_USER", "SEGREL_PASSWORD")
    netrc_file = tmp_path / "netrc"
    netrc_file.write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
    netrc_file.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc_file))
    logged = []
    fetch(url, tmp_path / "h.bin", auth=credentials(url, "SEGREL_USER", "SEGREL_PASSWORD"), checksum="sha256:" + DIGEST,
          log=logged.append)
    assert (tmp_path / "h.bin").read_bytes() == PAYLOAD
    assert logged and not any(PASSWORD in line for line in logged)


def test_a_dropped_download_without_length_is_not_taken_for_whole(server, tmp_path):
    _, base = server
    with pytest.raises(DownloadError, match=r"interrupted after 1000 bytes .*run again to resume"):
        fetch(f"{base}/chunked-drop", tmp_path / "i.bin", log=lambda m: None)
    assert not (tmp_path / "i.bin").exists() and (tmp_path / "i.bin.part").stat().st_size == 1000


def test_credentials_are_not_sent_on_to_a_redirect_nor_over_plain_http(server, tmp_path):
    httpd, base = server
    httpd.requests.clear()
    fetch(f"{base}/moved", tmp_path / "j.bin", auth=(USER, PASSWORD), checksum="sha256:" + DIGEST,
          log=lambda m: None)
    assert "Authorization" in httpd.requests[0] and "Authorization" not in httpd.requests[1]
    with pytest.raises(DownloadError, match="refusing to send credentials over http; use an https address"):
        fetch("http://example.org/archive.zip", tmp_path / "k.bin", auth=(USER, PASSWORD), log=lambda m: None)
