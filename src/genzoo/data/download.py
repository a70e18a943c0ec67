"""Downloading dataset files: mirrors tried in order, md5-checked, written atomically.

A file is streamed into a temporary file beside its destination, its md5 compared with
`CHECKSUMS`, then moved into place (genzoo.atomic_file); a failed or mismatching download
leaves nothing behind. Mirrors can be replaced by a function argument or by
`$GENZOO_MIRROR` (comma-separated base URLs; files are fetched from `<base>/<dataset>/<file>`).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from genzoo.atomic_file import atomic_output
from genzoo.errors import DataError

# Base URLs per dataset, tried in order; a file's URL is base + file name.
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    "cifar10": ("https://www.cs.toronto.edu/~kriz/",),
}

# md5 of the files as served by the official locations. (Debian's dataset-fashion-mnist
# recompresses the .gz files, so its copies hash differently; local files are not md5-checked.)
CHECKSUMS: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    },
    "cifar10": {"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"},
}

TIMEOUT_S = 30.0
CHUNK_BYTES = 1 << 20


def mirror_urls(name: str, mirrors: Sequence[str] | None = None) -> tuple[str, ...]:
    """Base URLs for dataset `name`: the `mirrors` argument, else `$GENZOO_MIRROR`, else `MIRRORS`."""
    if mirrors:
        return tuple(mirrors)
    override = [base.strip() for base in os.environ.get("GENZOO_MIRROR", "").split(",") if base.strip()]
    if override:
        return tuple(f"{base.rstrip('/')}/{name}/" for base in override)
    return MIRRORS.get(name, ())


def md5_of(path: str | os.PathLike[str]) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch_once(url: str, destination: Path, md5: str | None, progress: bool) -> None:
    """Stream `url` to `destination` via a temporary file; raise OSError/ValueError on failure."""
    with atomic_output(destination) as temporary:
        digest = hashlib.md5()
        with open(temporary, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=destination.name, disable=not progress, leave=False) as bar:
                for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if md5 is not None and digest.hexdigest() != md5:
            raise ValueError(f"md5 {digest.hexdigest()} != expected {md5}")


def fetch_file(filename: str, urls: Sequence[str], destination: Path, md5: str | None, *, progress: bool = True) -> Path:
    """Download `filename` to `destination`, trying each base URL in turn; DataError if all fail."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for base in urls:
        url = base + filename
        try:
            _fetch_once(url, destination, md5, progress)
            return destination
        except (OSError, ValueError, http.client.HTTPException) as error:
            reason = f"HTTP {error.code} {error.reason}" if isinstance(error, urllib.error.HTTPError) else getattr(error, "reason", None) or error
            failures.append(f"{url}: {reason}".replace("\n", " "))
    if not failures:
        raise DataError(f"no download location known for {filename}")
    raise DataError(f"could not download {filename} ({'; '.join(failures)})")


def download_files(
    name: str, filenames: Sequence[str], directory: Path, *, progress: bool = True, mirrors: Sequence[str] | None = None
) -> list[Path]:
    """Download the missing `filenames` of dataset `name` into `directory`, md5-checked."""
    urls = mirror_urls(name, mirrors)
    checksums = CHECKSUMS.get(name, {})
    paths = []
    for filename in filenames:
        destination = directory / filename
        if not destination.is_file():
            fetch_file(filename, urls, destination, checksums.get(filename), progress=progress)
        paths.append(destination)
    return paths
