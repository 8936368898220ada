"""The real datasets: each archive fetched (or taken from disk) and verified, then extracted and
checked into the layout :mod:`segrel.core.formats` reads.

Where the archives come from (each format's ``source`` in :data:`segrel.core.formats.FORMATS`):

- Cityscapes: the portal that cityscapesScripts' ``csDownload`` talks to (login form, package
  list, per-package MD5, ``file-handling`` with HTTP Range). Re-implemented on
  :func:`segrel.data.download.fetch` rather than called, because ``csDownload`` asks for the password
  on the terminal (a cluster job has none) or reads it from an unencrypted JSON file, hard-codes
  the host (no mirror, no local test server), and on resume appends the whole file again when a
  server ignores the Range header.
- ACDC: the site's token API (``/api/packages``, ``/api/getPackageUri/<id>``, then
  ``/api/downloadPackage/<token>/<name>``; a token serves one request, so each attempt takes one).
- SMIYC RoadAnomaly21: Zenodo record 5270237.
- IDD: each account gets its own download links, so there is no scripted download: the archive
  is taken from disk (``source: archives``) or from a URL the user gives.

Checksums: the one the publisher gives (Cityscapes' server, Zenodo's MD5 for SMIYC) unless
``checksums`` in the config pins another; an archive with neither is checked by
extracting it (zip CRCs, a complete gzip stream) and its SHA-256 is logged and recorded in the
prepared dataset's ``SOURCE.json``, so it can be pinned.

Credentials come from environment variables or ~/.netrc at run time, go into request headers or
the login form only, and never into a message, a param, a log or a result.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import zipfile
import zlib
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import HTTPCookieProcessor, HTTPRedirectHandler, Request, build_opener

from segrel.core.formats import Source, dataset_format, list_samples
from segrel.data.download import (
    DownloadError,
    credentials,
    fetch,
    file_digests,
    optional_credentials,
    public_url,
    require_https,
    unreachable,
    verify,
)


def source(fmt: str) -> Source:
    return dataset_format(fmt).source


def expected_checksum(fmt: str, name: str, pinned: str | None) -> str | None:
    """The config's pin, else the one published with the package (None: not known in advance)."""
    package = source(fmt).package(name)
    return pinned or (package.checksum if package else None)


# ---- obtaining one archive

def obtain_archive(request: dict, dest, log=print) -> Path:
    """Put one verified archive at ``dest``: from disk (linked), a URL, or the publisher.

    ``request``: format, name (archive), location (a path or URL, or None = the publisher),
    mirror (base URL replacing the publisher's, or None), checksum (pinned, or None),
    credential_prefix (environment variables <PREFIX>_USERNAME / _PASSWORD for a URL).
    """
    dest = Path(dest)
    fmt, name, location = request["format"], request["name"], request.get("location")
    src = source(fmt)
    checksum = expected_checksum(fmt, name, request.get("checksum"))
    if location and not is_url(location):
        return _link_local_archive(Path(location), dest, checksum, src, log)
    if location:
        prefix = request.get("credential_prefix") or fmt.upper()
        variables = (f"{prefix}_USERNAME", f"{prefix}_PASSWORD")
        auth = optional_credentials(location, *variables)
        return _fetch(location, dest, checksum, src, log, auth=auth, credential_variables=variables)
    base = (request.get("mirror") or src.base).rstrip("/")
    if src.protocol == "none":
        raise DownloadError(f"{name} cannot be downloaded by script: get it at {src.registration}, then set "
                            f"source: archives and archives: {{{name}: <its path or URL>}} for this dataset")
    if src.protocol == "url":
        return _fetch(base + src.package(name).path, dest, checksum, src, log)
    if src.protocol == "acdc":
        return _fetch_acdc(base, name, dest, checksum, src, log)
    return _fetch_cityscapes(base, name, dest, checksum, src, log)


def is_url(location: str) -> bool:
    """An archive location that is downloaded (otherwise it is a path)."""
    return urlsplit(location).scheme in ("http", "https")


def _link_local_archive(path: Path, dest: Path, checksum, src: Source, log) -> Path:
    if not path.is_file():
        raise DownloadError(f"archive {path} does not exist: get it at {src.registration} and put it there, "
                            "or fix the path in the dataset's 'archives'")
    digest = verify(path, checksum, str(path))
    dest.parent.mkdir(parents=True, exist_ok=True)
    link = dest.with_name(dest.name + ".link")
    link.unlink(missing_ok=True)
    link.symlink_to(path.resolve())  # an archive of many GB is referred to, not copied
    os.replace(link, dest)
    log(f"{path}: {path.stat().st_size} bytes, sha256 {digest[:16]}...{'' if checksum else _pin_hint(digest)}")
    return dest


def _pin_hint(digest: str) -> str:
    return f" (no published checksum; pin it with checksums: {{<archive>: 'sha256:{digest}'}})"


def _fetch(url: str, dest: Path, checksum, src: Source, log, *, auth=None, opener=None,
           credential_variables: tuple[str, str] | None = None) -> Path:
    try:
        fetch(url, dest, checksum=checksum, auth=auth, opener=opener, log=log)
    except DownloadError as error:
        if "HTTP 401" not in str(error) and "HTTP 403" not in str(error):
            raise
        variables = credential_variables or src.credentials
        how = f"Credentials come from {' and '.join(variables)} or ~/.netrc; access" if variables else "Access"
        raise DownloadError(f"{error}. {how} is granted at {src.registration}") from None
    if not checksum:
        log(f"{public_url(url)}: no published checksum; to pin this file add checksums: "
            f"{{{dest.name}: 'sha256:<the digest above>'}} to the dataset")
    return dest


class _NoRedirect(HTTPRedirectHandler):
    """The Cityscapes portal answers a good login with a 302 (and a bad one with the form again)."""

    def redirect_request(self, *args, **kwargs):
        return None


def _get_json(opener, url: str, timeout: float = 60.0):
    try:
        with opener.open(Request(url, headers={"User-Agent": "segrel"}), timeout=timeout) as response:
            return json.loads(response.read().decode())
    except HTTPError as error:
        raise DownloadError(f"{public_url(url)}: HTTP {error.code} {error.reason}") from None
    except URLError as error:
        raise unreachable(url, error) from None
    except ValueError:
        raise DownloadError(f"{public_url(url)}: the answer is not JSON (has the site's API changed? "
                            "download the archives by hand and set source: archives)") from None


def _status(opener, request: Request) -> int:
    """HTTP status of a request sent without following redirects (as csDownload's
    ``allow_redirects=False``); a 4xx / 5xx is an error."""
    try:
        with opener.open(request, timeout=60):
            return 200
    except HTTPError as error:
        if error.code < 400:
            return error.code  # the refused redirect
        raise DownloadError(f"{public_url(request.full_url)}: HTTP {error.code} {error.reason}") from None
    except URLError as error:
        raise unreachable(request.full_url, error) from None


def _fetch_cityscapes(base: str, name: str, dest: Path, checksum, src: Source, log) -> Path:
    user, password = credentials(base, *src.credentials)
    require_https(base)
    jar = CookieJar()
    opener = build_opener(HTTPCookieProcessor(jar), _NoRedirect)
    login = f"{base}/login"  # as csDownload: GET the form (session cookie), then POST to it
    form = urlencode({"username": user, "password": password, "submit": "Login"}).encode()
    _status(opener, Request(login, headers={"User-Agent": "segrel"}))
    status = _status(opener, Request(login, data=form, headers={"User-Agent": "segrel"}))
    if status != 302:  # a good login is redirected; a bad one gets the form again (200)
        raise DownloadError(f"{public_url(login)}: login refused (HTTP {status}): "
                            f"check {' and '.join(src.credentials)} "
                            f"or the ~/.netrc entry for {urlsplit(base).hostname}; accounts: {src.registration}")
    packages = {p["name"]: p["packageID"] for p in _get_json(opener, f"{base}/downloads/?list")}
    if name not in packages:
        raise DownloadError(f"the Cityscapes account has no package {name!r} (it has: "
                            f"{', '.join(sorted(packages)) or 'none'}); request access at {src.registration}")
    package_id = packages[name]
    if not checksum:
        try:
            with opener.open(f"{base}/md5-sum/?packageID={package_id}", timeout=60) as response:
                md5 = response.read().decode(errors="replace").split()[0].lower()
            if len(md5) != 32 or any(c not in "0123456789abcdef" for c in md5):
                raise ValueError("the answer is not an MD5")
        except (HTTPError, URLError, IndexError, ValueError) as error:
            raise DownloadError(f"{public_url(base)}: no MD5 for {name} ({error}); try again later") from None
        checksum = "md5:" + md5
    # the session's cookies go with the opener (and only to the portal's host)
    return _fetch(f"{base}/file-handling/?packageID={package_id}", dest, checksum, src, log, opener=opener)


def _fetch_acdc(base: str, name: str, dest: Path, checksum, src: Source, log) -> Path:
    opener = build_opener()
    packages = {p["name"]: p["packageId"] for p in _get_json(opener, f"{base}/api/packages")["packages"]}
    if name not in packages:
        raise DownloadError(f"ACDC lists no package {name!r} (it has: {', '.join(sorted(packages))}); "
                            f"see {src.registration}")
    token = _get_json(opener, f"{base}/api/getPackageUri/{packages[name]}")["token"]
    return _fetch(f"{base}/api/downloadPackage/{token}/{name}", dest, checksum, src, log)


# ---- preparing a dataset from its archives

def replaceable(fmt: str, name: str, pinned: str | None, location: str | None) -> bool:
    """Whether a corrupt copy of an archive may be deleted to be fetched again: segrel downloaded
    it (from the publisher or a URL) and no checksum vouched for it. A user's file is never
    deleted, and a file whose checksum matched would only come back the same."""
    downloaded = location is None or is_url(location)
    vouched = expected_checksum(fmt, name, pinned) is not None or (
        location is None and source(fmt).protocol == "cityscapes")  # the portal gives an MD5
    return downloaded and not vouched


#: what a damaged archive raises while it is read (a disk error is an OSError and is not one)
CORRUPT = (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error)


def prepare_dataset(fmt: str, archives: list, out, *, replaceable: list[bool], log=print) -> dict:
    """Extract ``archives`` into a scratch folder beside ``out``, arrange and check the layout,
    write ``SOURCE.json`` and rename the folder to ``out``: nothing half-extracted is left.

    A corrupt archive is deleted when ``replaceable`` (see :func:`replaceable`; the next run
    downloads it again), otherwise named.
    """
    from segrel.core.io import atomic_directory

    src = source(fmt)
    out = Path(out)
    with atomic_directory(out) as scratch:
        for archive, delete in zip(map(Path, archives), replaceable):
            log(f"extracting {archive.name}")
            try:
                _extract(archive, scratch)
            except CORRUPT as error:
                if delete:
                    archive.unlink(missing_ok=True)
                    fix = "deleted it; run the workflow again to download it again"
                else:
                    fix = (f"replace it with a good copy from {src.registration} (if its checksum matched, "
                           "check the disk it lies on)")
                raise DownloadError(f"archive {archive.name} is corrupt or truncated ({error}): {fix}") from None
        record = dataset_format(fmt)
        _arrange(scratch, record.layout.top_folders, fmt)
        if record.labels_from_polygons:
            from segrel.data.idd import write_level3_labels

            log(f"rendered {write_level3_labels(scratch, log=log)} level-3 label images from the polygons")
        samples = _check_layout(fmt, scratch, record.layout.splits)
        manifest = {
            "format": fmt,
            "archives": [{"name": Path(a).name, "bytes": Path(a).stat().st_size, "sha256": file_digests(a)["sha256"]}
                         for a in archives],
            "samples": samples,
        }
        (scratch / "SOURCE.json").write_text(json.dumps(manifest, indent=2) + "\n")
        log(f"{fmt}: " + ", ".join(f"{split} {count} images" for split, count in samples.items()))
    return manifest


def _extract(archive: Path, into: Path) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            # each member's CRC is checked as it is read (BadZipFile); zipfile drops absolute
            # paths and '..' from member names
            bundle.extractall(into)
        return
    with tarfile.open(archive) as bundle:
        bundle.extractall(into, filter="data")  # no links or paths out of the folder


def _arrange(root: Path, layout: tuple[str, ...], fmt: str) -> None:
    """Move each layout folder to the top when an archive wraps it in one more folder
    (IDD's ``IDD_Segmentation/``); a layout folder found nowhere is an error."""
    for folder in layout:
        if (root / folder).is_dir():
            continue
        found = sorted(p for p in root.glob(f"*/{folder}") if p.is_dir())
        if not found:
            raise DownloadError(f"the {fmt} archives hold no {folder}/ folder: are they the right packages "
                                f"({', '.join(source(fmt).package_names)})?")
        shutil.move(str(found[0]), str(root / folder))


def _check_layout(fmt: str, root: Path, splits: tuple[str, ...]) -> dict[str, int]:
    counts = {}
    for split in splits:
        try:
            counts[split] = len(list_samples(fmt, root, split, "*"))
        except FileNotFoundError as error:
            raise DownloadError(f"the {fmt} archives do not give a complete {split} split: {error}") from None
    return counts
