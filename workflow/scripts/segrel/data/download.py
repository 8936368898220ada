"""Downloads that resume, verify and never leave half a file behind.

``fetch`` streams a URL into ``<dest>.part`` and renames it to ``dest`` only once the size the
server announced has arrived and the checksum matches. An interrupted download resumes from
the ``.part`` file with an HTTP Range request; a wrong checksum deletes it (the bytes are bad
or the URL now serves another file). Credentials go in an Authorization header and never
into a message: URLs are shown without their user-info or query string. Standard library
only (urllib), so the data stage needs no extra package.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import netrc
import os
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit, urlunsplit
from urllib.request import Request, build_opener

CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download that cannot complete; the message says what to do."""


class MissingCredentials(DownloadError):
    """Neither the environment variables nor ~/.netrc hold an account for the host."""


def public_url(url: str) -> str:
    """``url`` without user-info, query or fragment (what may appear in logs).

    >>> public_url("https://user:secret@example.org/a/b.zip?token=x#y")
    'https://example.org/a/b.zip'
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def credentials(url: str, user_variable: str, password_variable: str) -> tuple[str, str]:
    """(user, password) for ``url``'s host: from the two environment variables, else ~/.netrc
    (or $NETRC). Missing ones give one error naming both ways to provide them."""
    user, password = os.environ.get(user_variable), os.environ.get(password_variable)
    if user and password:
        return user, password
    host = urlsplit(url).hostname or ""
    try:
        entry = netrc.netrc(os.environ.get("NETRC")).authenticators(host)
    except FileNotFoundError:
        entry = None
    except (netrc.NetrcParseError, PermissionError) as error:  # e.g. readable by others
        raise DownloadError(f"~/.netrc cannot be used ({error}); fix it (chmod 600 ~/.netrc), or set "
                            f"{user_variable} and {password_variable}") from None
    if entry and entry[0] and entry[2]:
        return entry[0], entry[2]
    raise MissingCredentials(f"{public_url(url)} needs an account: set {user_variable} and {password_variable}, "
                             f"or add 'machine {host} login <user> password <password>' to ~/.netrc")


def optional_credentials(url: str, user_variable: str, password_variable: str) -> tuple[str, str] | None:
    """:func:`credentials` where there are any, else None (a public URL; a refusal by the server
    then names the variables)."""
    try:
        return credentials(url, user_variable, password_variable)
    except MissingCredentials:
        return None


def url_secret_problems(key: str, url: str, fix: str) -> list[str]:
    """Config problems of a URL given as ``key``: no account and no token in it, since the config
    is logged, shown in the report and kept in Snakemake's metadata; ``fix`` says where an
    account goes instead.

    >>> (problem,) = url_secret_problems("zoo.mirror", "https://ann:pw@mirror.local/x", account_fix("ZOO"))
    >>> problem.split("; ")[1]
    'use ZOO_USERNAME / ZOO_PASSWORD or ~/.netrc'
    """
    parts = urlsplit(url)
    problems = []
    if parts.query or parts.fragment:
        problems.append(f"config key '{key}': a URL with a query string usually carries a personal token, which "
                        "would be kept in Snakemake's metadata and the report; download the file and give its "
                        "path instead")
    if parts.username or parts.password:
        problems.append(f"config key '{key}': credentials do not belong in a URL (the config is logged and shown in "
                        f"the report); {fix}")
    return problems


def account_fix(prefix: str) -> str:
    """Where an account for a download goes: <PREFIX>_USERNAME / <PREFIX>_PASSWORD or ~/.netrc."""
    return f"use {prefix}_USERNAME / {prefix}_PASSWORD or ~/.netrc"


def parse_checksum(checksum: str) -> tuple[str, str]:
    """``"md5:<hex>"`` / ``"sha256:<hex>"`` -> (algorithm, lower-case hex); a prefix of the
    digest is allowed (OpenMMLab's checkpoint names carry the first 8 digits of the SHA-256).

    >>> parse_checksum("MD5:231BF79E")
    ('md5', '231bf79e')
    >>> parse_checksum("231bf79e")
    Traceback (most recent call last):
    ...
    ValueError: checksum '231bf79e' is not '<md5|sha256>:<hex digits>'
    """
    algorithm, _, digest = checksum.partition(":")
    algorithm, digest = algorithm.strip().lower(), digest.strip().lower()
    if algorithm not in ("md5", "sha256") or not digest or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"checksum {checksum!r} is not '<md5|sha256>:<hex digits>'")
    return algorithm, digest


def file_digests(path, algorithms=("sha256",)) -> dict[str, str]:
    """Hex digests of ``path``, every algorithm in one read (archives are tens of GB)."""
    digests = {algorithm: hashlib.new(algorithm) for algorithm in algorithms}
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            for digest in digests.values():
                digest.update(chunk)
    return {algorithm: digest.hexdigest() for algorithm, digest in digests.items()}


def verify(path, checksum: str | None, shown: str) -> str:
    """Check ``path`` against ``checksum`` (see :func:`parse_checksum`); return its SHA-256."""
    algorithm, wanted = parse_checksum(checksum) if checksum else ("sha256", "")
    digests = file_digests(path, dict.fromkeys(["sha256", algorithm]))
    if checksum:
        actual = digests[algorithm]
        if not actual.startswith(wanted):
            raise DownloadError(f"{shown}: checksum mismatch ({algorithm} {actual[:16]}..., expected {wanted}): "
                                "the file is corrupt or the source now serves another file")
    return digests["sha256"]


def unreachable(url: str, error: URLError) -> DownloadError:
    """The one error for a server that cannot be reached."""
    return DownloadError(f"{public_url(url)}: cannot connect ({error.reason}); check the address and the network, "
                         "or point the config at a copy already on disk")


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def require_https(url: str) -> None:
    """Credentials travel only over https (or to this machine, as the tests' servers)."""
    parts = urlsplit(url)
    if parts.scheme != "https" and parts.hostname not in LOOPBACK:
        raise DownloadError(f"{public_url(url)}: refusing to send credentials over {parts.scheme}; use an "
                            "https address")


def fetch(url: str, dest, *, checksum: str | None = None, auth: tuple[str, str] | None = None,
          opener=None, timeout: float = 60.0, log=print) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``), verify it, and return ``dest``.

    ``checksum`` is ``"<md5|sha256>:<hex>"`` (the whole digest or its first digits). ``auth``
    goes in an Authorization header that is not repeated to a redirect's target; ``opener`` (a
    urllib opener, e.g. one holding a session's cookies) replaces the default one.
    A ``dest`` already there is returned as it is.
    """
    dest = Path(dest)
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    request = Request(url, headers={"User-Agent": "segrel"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    if auth:
        require_https(url)
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_unredirected_header("Authorization", f"Basic {token}")
    shown = public_url(url)
    try:
        response = (opener or build_opener()).open(request, timeout=timeout)
    except HTTPError as error:
        if error.code == 416 and offset:  # nothing left to send: the .part file is whole
            response = None
        elif error.code in (401, 403):
            raise DownloadError(f"{shown}: HTTP {error.code}, the server refused the request: check the "
                                "account (credentials) and that it has access to this file") from None
        else:
            raise DownloadError(f"{shown}: HTTP {error.code} {error.reason}") from None
    except URLError as error:
        raise unreachable(url, error) from None
    if response is not None:
        with response:
            if offset and response.status != 206:  # the server ignored the range: start again
                log(f"{shown}: the server does not resume; downloading from the start")
                offset = 0
            length = response.headers.get("Content-Length")
            expected = offset + int(length) if length is not None else None
            dropped = None
            with open(part, "ab" if offset else "wb") as out:
                while True:
                    try:
                        chunk = response.read(CHUNK)
                    except (OSError, http.client.HTTPException) as error:  # connection dropped mid-body
                        out.write(getattr(error, "partial", b""))  # what arrived is kept to resume from
                        dropped = error
                        break
                    if not chunk:
                        break
                    out.write(chunk)  # a write error (disk full) is raised as it is
        size = part.stat().st_size
        if dropped is not None or (expected is not None and size < expected):
            of = f" of {expected}" if expected is not None else ""
            raise DownloadError(f"{shown}: interrupted after {size}{of} bytes{f' ({dropped})' if dropped else ''}; "
                                f"run again to resume (the partial file is kept as {part})")
    try:
        digest = verify(part, checksum, shown)
    except DownloadError as error:
        part.unlink()
        raise DownloadError(f"{error}; deleted it, run again to retry, and if it persists update the "
                            "expected checksum") from None
    os.replace(part, dest)
    log(f"{shown}: {dest.stat().st_size} bytes, sha256 {digest}")
    return dest
