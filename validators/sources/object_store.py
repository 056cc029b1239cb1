"""A run kept under an object-store prefix: ``s3://``, ``gs://``/``gcs://``, ``file://``, ``memory://``.

Read through fsspec (s3fs for S3, gcsfs for Google Cloud Storage), never by guessing at the store:

* **Credentials and endpoint** are the store's usual ones. S3: ``AWS_ACCESS_KEY_ID`` and
  ``AWS_SECRET_ACCESS_KEY`` (or a profile, or the instance's role), ``AWS_DEFAULT_REGION``, and
  ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` for a store that is not AWS (MinIO, moto, Ceph).
  GCS: gcsfs's own chain (``GOOGLE_APPLICATION_CREDENTIALS``...); gcsfs is not installed with the
  ``remote`` extra: ``pip install gcsfs``.
* **Timeouts**: every request to S3 has a :data:`CONNECT_TIMEOUT` (5 s) to connect and the
  source's ``timeout`` (60 s, ``SourceOptions.timeout``) to read; a failed request is tried
  :data:`ATTEMPTS` (2) times by botocore and as often by s3fs, so an endpoint that does not answer
  is an error in seconds, never a hang.
* **Listing**: the prefix is listed one level deep, and only the folders an artefact may lie in
  (``logs/``, ``tensorboard/`` and below, or a declared folder) further, the folders of one level
  at once; each listing, and all of them together, hold at most :data:`MAX_LISTED` entries, more
  is an error (a run is a few files, not a bucket). Objects are then read :data:`PARALLEL` at a time.
* **Selection** (:func:`select`): the objects the layout conventions (``layout.CONVENTIONS``) or
  the declared ``[artefacts]``/``--artefact`` paths could bind for the roles the spec needs:
  a name matches itself, a glob matches with the rules of :mod:`glob` (``*`` never crosses ``/``
  nor matches a leading dot), and a log folder takes every object under it (at most
  :data:`MAX_FOLDER_OBJECTS`). Every candidate is fetched, not only the first, because the
  gate cross-checks every history present and lists the other candidates it did not judge.
* **Limits before a download**: each object's listed size against the limit of what it is
  (a table: ``tables.max_file_bytes()``; a history file 64 MiB; a config 16 MiB; a model or an
  event file ``max_file_bytes()`` too); a larger object is an error and is not downloaded.
* **Integrity**: each object is written under the run's private copy at its relative key, hashed
  (SHA-256) as it is read; its size must equal the listing's, and S3 reads are conditional on the
  listed ETag (``If-Match``), so an object replaced between the listing and the read is an error
  naming its URL. A key with ``..``, an empty or absolute part, a NUL, or one that would land outside
  the copy is refused, naming its URL.

Anything that goes wrong is an ``ArtefactError`` naming the URL (exit 2).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..artefacts.layout import CONVENTIONS
from ..errors import ArtefactError
from . import Fetched, FetchedObject

CONNECT_TIMEOUT = 5.0  # seconds to open a connection to the store
ATTEMPTS = 2  # tries of one request (botocore's max_attempts, s3fs's retries)
MAX_LISTED = 10_000  # entries in one listing (the prefix, or a folder under it)
MAX_FOLDER_OBJECTS = 10_000  # objects taken under one log folder
CHUNK = 8 << 20  # bytes read per request
PARALLEL = 8  # requests in flight at once for one run (folders of one level, objects)
FOLDER_ROLES = frozenset({"history", "tensorboard"})  # roles whose candidates may be folders


# -- which objects ----------------------------------------------------------------------------
def patterns_for(needed, declared=None) -> dict[str, tuple[str, ...]]:
    """Role -> the names or globs it is looked for under: the declared path, else the conventions."""
    declared = declared or {}
    return {role: (declared[role],) if role in declared else CONVENTIONS.get(role, ()) for role in needed}


def _segment_matches(name: str, pattern: str) -> bool:
    """One path segment against one glob segment, as :func:`glob.glob` matches it."""
    if not any(c in pattern for c in "*?["):
        return name == pattern
    if name.startswith(".") and not pattern.startswith("."):
        return False  # glob's '*' never matches a hidden name
    return fnmatch.fnmatchcase(name, pattern)


def _matches(parts: tuple[str, ...], pattern: str) -> bool:
    wanted = tuple(pattern.split("/"))
    return len(parts) == len(wanted) and all(_segment_matches(p, w) for p, w in zip(parts, wanted))


def select(keys, needed, declared=None) -> dict[str, str]:
    """``{key: role}``: the keys of a listing (relative, ``/``-separated) the layout could bind for
    the ``needed`` roles. A key matches a role's pattern itself, or, for a log-folder role, lies
    under a folder that matches one. The first role (in ``needed`` order) that wants a key names it."""
    table = patterns_for(needed, declared)
    chosen: dict[str, str] = {}
    for key in keys:
        parts = tuple(key.split("/"))
        for role, patterns in table.items():
            folder = role in FOLDER_ROLES or (declared and role in declared)
            spans = range(1, len(parts) + 1) if folder else (len(parts),)
            if any(_matches(parts[:n], p) for p in patterns for n in spans):
                chosen[key] = role
                break
    return chosen


def _could_hold(parts: tuple[str, ...], table, declared) -> bool:
    """Whether the folder at ``parts`` may hold a selected key (so it must be listed)."""
    for role, patterns in table.items():
        folder = role in FOLDER_ROLES or (declared and role in declared)
        for pattern in patterns:
            wanted = tuple(pattern.split("/"))
            head = min(len(parts), len(wanted))
            if len(wanted) <= len(parts) and not folder:
                continue
            if all(_segment_matches(p, w) for p, w in zip(parts[:head], wanted[:head])):
                return True
    return False


# -- limits -----------------------------------------------------------------------------------
def limit_of(role: str, where: str) -> tuple[int, str]:
    """``(bytes, what)``: the largest object of ``role`` the gate would read."""
    from ..artefacts.config_file import MAX_CONFIG_BYTES
    from ..artefacts.history import MAX_HISTORY_BYTES
    from ..artefacts.tables import MAX_FILE_BYTES_ENV, max_file_bytes

    if role == "config":
        return MAX_CONFIG_BYTES, "a config"
    if role in ("history", "tensorboard") and where.lower().endswith((".csv", ".log", ".json")):
        return MAX_HISTORY_BYTES, "a history file"
    what = {"predictions": "a table", "returns": "a table", "model": "a model"}.get(role, "an event file")
    return max_file_bytes(where), f"{what} (${MAX_FILE_BYTES_ENV})"


# -- the store --------------------------------------------------------------------------------
@dataclass
class Listed:
    key: str  # relative to the prefix, "/"-separated
    name: str  # the store's path of the object
    size: int
    stamp: tuple  # what says it is the same object: ETag, version, mtime


_CLIENTS: dict = {}  # one S3 filesystem (its HTTP client) per process and configuration: a sweep's worker reuses it


def _filesystem(scheme: str, options):
    """The fsspec filesystem of ``scheme``, with credentials, endpoint and timeouts from the environment.

    An S3 client costs about 0.2 s to make; a worker of a sweep keeps one per configuration (the
    variables below, the timeouts, this process), its listings forgotten before each run."""
    import fsspec

    timeout = float(options.timeout)
    if scheme == "s3":
        names = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONFIG_FILE",
                 "AWS_SHARED_CREDENTIALS_FILE")
        key = (os.getpid(), timeout, CONNECT_TIMEOUT, ATTEMPTS, *(os.environ.get(n) for n in names))
        fs = _CLIENTS.get(key)
        if fs is None:
            _CLIENTS.clear()
            fs = _CLIENTS[key] = _s3(timeout)
        fs.invalidate_cache()
        return fs
    if scheme in ("gs", "gcs"):
        import gcsfs  # noqa: F401 - ImportError: the caller names the package

        return fsspec.filesystem("gcs", skip_instance_cache=True, timeout=timeout)
    return fsspec.filesystem(scheme, skip_instance_cache=True)


def _s3(timeout: float):
    import s3fs

    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
    fs = s3fs.S3FileSystem(
        endpoint_url=endpoint, skip_instance_cache=True, use_listings_cache=True,
        client_kwargs={"region_name": region} if region else {},
        config_kwargs={"connect_timeout": CONNECT_TIMEOUT, "read_timeout": timeout,
                       "retries": {"max_attempts": ATTEMPTS, "mode": "standard"}})
    fs.retries = ATTEMPTS
    return fs


def _root(location: str, scheme: str) -> str:
    """The store's path of the prefix (``bucket/prefix``, ``/abs/path``)."""
    rest = location.split(":", 1)[1]
    if scheme == "file":
        if not rest.startswith("///"):
            raise ArtefactError(location, "a file:// location must be absolute: file:///path/to/run")
        return "/" + rest[3:].strip("/")
    if scheme == "memory":
        return "/" + rest.lstrip("/").rstrip("/")
    path = rest.lstrip("/").rstrip("/")
    if not path:
        raise ArtefactError(location, "no bucket in the location: expected " + f"{scheme}://BUCKET/PREFIX")
    return path


def _stamp(info: dict) -> tuple:
    """What tells one version of an object from the next (times as seconds: listings and ``info`` differ)."""
    values = [info.get(k) for k in ("ETag", "VersionId", "generation", "mtime", "created", "ino", "LastModified")]
    return tuple(v.timestamp() if hasattr(v, "timestamp") else v for v in values)


def _explain(exc: BaseException, url: str) -> ArtefactError:
    """An ``ArtefactError`` naming ``url`` for what the store (or the way to it) said."""
    name = type(exc).__name__
    text = str(exc) or name
    if name in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"):
        return ArtefactError(url, f"no credentials for the store: {text}",
                             hint="set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)")
    if isinstance(exc, PermissionError) or name in ("ClientError",) and "AccessDenied" in text:
        return ArtefactError(url, f"access denied by the store: {text}",
                             hint="the credentials in use may not list or read this prefix")
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError",
                "ClientConnectorError", "ServerTimeoutError", "TimeoutError") or isinstance(exc, (ConnectionError,
                                                                                                 TimeoutError)):
        return ArtefactError(url, f"the store cannot be reached: {text}",
                             hint=f"check AWS_ENDPOINT_URL and the network; each request waits at most "
                                  f"{CONNECT_TIMEOUT:g} s to connect")
    return ArtefactError(url, f"the store refused the request: {name}: {text}")


class _Store:
    """One listing and the reads of one prefix."""

    def __init__(self, location: str, scheme: str, options):
        self.location = location.rstrip("/")
        self.scheme = scheme
        self.root = _root(location, scheme)
        try:
            self.fs = _filesystem(scheme, options)
        except ImportError as exc:
            raise ArtefactError(location, f"reading {scheme}:// needs a package that is not installed ({exc.name})",
                                hint="pip install gcsfs" if scheme in ("gs", "gcs")
                                else "pip install 'runverdict[remote]'") from None

    def url(self, key: str) -> str:
        return f"{self.location}/{key}"

    def _ls(self, path: str, where: str) -> list[dict]:
        try:
            if self.scheme == "s3":
                from fsspec.asyn import sync

                entries = sync(self.fs.loop, self.fs._lsdir, path, max_items=MAX_LISTED + 1)
                if not entries:
                    raise FileNotFoundError(path)
            else:
                entries = self.fs.ls(path, detail=True)
        except FileNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the store says, named with the URL
            raise _explain(exc, where) from None
        if len(entries) > MAX_LISTED:
            raise ArtefactError(where, f"holds more than {MAX_LISTED} entries: refused, a run is a few files",
                                hint="point at the run's own prefix")
        return entries

    def _name(self, entry: dict) -> str:
        name = entry["name"].rstrip("/")
        return "/" + name if self.scheme == "memory" and not name.startswith("/") else name

    def _an_object(self) -> ArtefactError:
        return ArtefactError(self.location, "is an object, not a prefix: give the run's folder",
                             hint=f"e.g. {self.location.rsplit('/', 1)[0]}")

    def _ls_folder(self, key: str) -> list[dict]:
        try:
            return self._ls(self.root + "/" + key, self.url(key))
        except FileNotFoundError:  # gone since the level above was listed: nothing under it to judge
            return []

    def _relative(self, name: str) -> str:
        root = self.root.rstrip("/")
        if not name.startswith(root + "/"):
            raise ArtefactError(self.url(name), "the store listed an object outside the prefix")
        return name[len(root) + 1:]

    def listing(self, needed, declared) -> list[Listed]:
        """The objects under the prefix that could hold the needed artefacts (folders pruned)."""
        table = patterns_for(needed, declared)
        try:
            top = self._ls(self.root, self.location)
        except FileNotFoundError:
            raise self._missing() from None
        if len(top) == 1 and top[0].get("type") == "file" and self._name(top[0]) == self.root:
            raise self._an_object()
        found: list[Listed] = []
        level = [top]
        while level:  # one level of folders at a time, its folders listed concurrently
            deeper = []
            for entries in level:
                for entry in entries:
                    key = self._relative(self._name(entry))
                    if not key:
                        continue
                    if entry.get("type") == "directory":
                        if _could_hold(tuple(key.split("/")), table, declared):
                            deeper.append(key)
                        continue
                    found.append(Listed(key, entry["name"], int(entry.get("size") or 0), _stamp(entry)))
                    if len(found) > MAX_LISTED:
                        raise ArtefactError(self.location, f"holds more than {MAX_LISTED} objects in the folders a "
                                                           "run's artefacts may be in: refused")
            level = [entries for entries in _concurrently(self._ls_folder, deeper) if entries]
        if not found and not top:
            raise self._missing()
        return found

    def _missing(self) -> ArtefactError:
        """Why the prefix lists nothing: no such bucket, an object rather than a prefix, or nothing under it."""
        try:
            if self.fs.isfile(self.root):
                return self._an_object()
            exists = self.scheme not in ("s3", "gs", "gcs") or self.fs.exists(self.root.split("/", 1)[0])
        except Exception as exc:  # noqa: BLE001
            return _explain(exc, self.location)
        if not exists:
            return ArtefactError(self.location, f"bucket {self.root.split('/', 1)[0]!r} does not exist",
                                 hint="check the bucket's name (and AWS_ENDPOINT_URL for a local store)")
        return ArtefactError(self.location, "no objects under this prefix",
                             hint="check the prefix: a run's folder holds predictions.csv, history.csv, ...")

    def download(self, item: Listed, into: Path) -> FetchedObject:
        """Copy one object to ``into``/key, hashing it; refuse it if it is not the object listed."""
        url = self.url(item.key)
        target = _safe_target(into, item.key, url)
        digest = hashlib.sha256()
        size = 0
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            extra = {"block_size": CHUNK, "cache_type": "none"} if self.scheme in ("s3", "gs", "gcs") else {}
            with self.fs.open(item.name, "rb", **extra) as src, open(target, "xb") as out:
                while True:
                    chunk = src.read(CHUNK)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > item.size:
                        break
                    digest.update(chunk)
                    out.write(chunk)
        except ArtefactError:
            raise
        except FileNotFoundError:
            raise ArtefactError(url, "was listed but is gone: it changed between listing and reading",
                                hint="the run is still being written; judge it once it is complete") from None
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            raise ArtefactError(url, "is both an object and a folder in the store: refused") from None
        except Exception as exc:  # noqa: BLE001
            if type(exc).__name__ == "FileExpired" or "PreconditionFailed" in str(exc):
                raise ArtefactError(url, "changed between listing and reading (its ETag differs)",
                                    hint="the run is still being written; judge it once it is complete") from None
            raise _explain(exc, url) from None
        changed = size != item.size
        if not changed and self.scheme not in ("s3",):  # S3 reads were conditional on the ETag already
            try:
                self.fs.invalidate_cache()
                changed = _stamp(self.fs.info(item.name)) != item.stamp
            except Exception:  # noqa: BLE001 - gone since: changed
                changed = True
        if changed:
            raise ArtefactError(url, f"changed between listing and reading (listed {item.size} bytes"
                                     + (f", read {size}" if size != item.size else ", then stamped differently") + ")",
                                hint="the run is still being written; judge it once it is complete")
        return FetchedObject(item.key, url, size, digest.hexdigest())


def _concurrently(call, items) -> list:
    """``[call(item) for item in items]``, up to :data:`PARALLEL` at a time (each waits on the store);
    the first item's error (in ``items`` order) is raised, after every call has ended."""
    items = list(items)
    if len(items) <= 1:
        return [call(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(items))) as pool:
        futures = [pool.submit(call, item) for item in items]
    for future in futures:
        if future.exception() is not None:
            raise future.exception()
    return [future.result() for future in futures]


def _safe_target(into: Path, key: str, url: str) -> Path:
    """Where ``key`` goes under ``into``; ``ArtefactError`` for a key that could land elsewhere."""
    parts = key.split("/")
    bad = next((p for p in parts if p in ("", ".", "..") or "\x00" in p or "\\" in p), None)
    if bad is not None or key.startswith("/"):
        raise ArtefactError(url, f"has an unsafe key (a part {bad!r}): refused, it is not copied",
                            hint="keys under a run's prefix must be plain relative paths")
    target = Path(into, *parts)
    root = os.path.realpath(into)
    if os.path.commonpath([root, os.path.realpath(target.parent)]) != root:
        raise ArtefactError(url, "would be written outside the run's copy: refused")
    return target


def fetch(location, needed, into, options) -> Fetched:
    """Copy the objects under ``location`` the ``needed`` artefacts may be, into ``into``."""
    from . import scheme_of

    scheme = scheme_of(location)
    store = _Store(location, scheme, options)
    declared = dict(getattr(options, "artefacts", None) or {})
    listed = store.listing(needed, declared)
    chosen = select([item.key for item in listed], needed, declared)
    wanted = [item for item in listed if item.key in chosen]
    by_folder: dict[tuple, int] = {}
    for item in wanted:  # every limit before any download
        role = chosen[item.key]
        limit, what = limit_of(role, store.url(item.key))
        if item.size > limit:
            raise ArtefactError(store.url(item.key), f"is {item.size} bytes, more than the {limit}-byte limit for "
                                                     f"{what}: refused before downloading it")
        top = tuple(item.key.split("/")[:1])
        by_folder[top] = by_folder.get(top, 0) + 1
        if by_folder[top] > MAX_FOLDER_OBJECTS:
            raise ArtefactError(store.url(top[0]), f"holds more than {MAX_FOLDER_OBJECTS} objects: refused")
    objects = _concurrently(lambda item: store.download(item, Path(into)), sorted(wanted, key=lambda i: i.key))
    return Fetched(location=os.fspath(location), local_dir=Path(into), objects=objects)


__all__ = ["ATTEMPTS", "CONNECT_TIMEOUT", "MAX_FOLDER_OBJECTS", "MAX_LISTED", "fetch", "limit_of", "patterns_for",
           "select"]
