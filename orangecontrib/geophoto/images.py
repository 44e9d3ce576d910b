"""Opening photos safely, shared by every part that reads them (no Qt).

Photos are untrusted files named by users. Anything that is not a regular file is refused
from its ``stat`` before it is opened: a FIFO blocks forever and ``/dev/zero`` never ends.
HEIC/HEIF open wherever Pillow does, whatever the process read first. A JPEG, PNG or WebP
whose data ends early is refused from its structure: Pillow's global
``ImageFile.LOAD_TRUNCATED_IMAGES``, which other add-ons switch on inside Orange, would
otherwise decode it half grey without a word, and a global flag cannot be switched off
safely for one decode on a thread pool.
"""
import io
import os
import stat
from contextlib import contextmanager
from functools import lru_cache
from typing import BinaryIO, Optional, Tuple

from orangecontrib.geophoto.tables import is_url

# The largest photo whose pixels are decoded (metadata readers set their own limit).
MAX_FILE_BYTES = 512 * 2 ** 20

_JPEG_SOI, _JPEG_SOS, _JPEG_EOI = b"\xff\xd8", 0xDA, b"\xff\xd9"
_JPEG_STANDALONE = {0x01, 0xD8, *range(0xD0, 0xD8)}  # TEM, SOI, RST0-7: no length
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ImageError(Exception):
    """A photo that cannot be read; the message is the reason shown on its row."""


@lru_cache(maxsize=1)
def register_heif() -> bool:
    """Let Pillow open HEIC/HEIF (pillow-heif); idempotent, so call it before any open."""
    try:
        import pillow_heif
        pillow_heif.register_heif_opener()
        return True
    except ImportError:  # pragma: no cover - a declared dependency
        return False


def kind_problem(mode: int) -> str:
    """Why a file with this ``st_mode`` is not read as a photo; "" for a regular file."""
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISDIR(mode):
        return "is a folder, not an image file"
    if stat.S_ISFIFO(mode):
        return "not a regular file (a FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "not a regular file (a device)"
    if stat.S_ISSOCK(mode):
        return "not a regular file (a socket)"
    return "not a regular file"


def os_problem(ex: OSError) -> str:
    """A short reason for a failed ``stat``/``open``."""
    if isinstance(ex, FileNotFoundError):
        return "file not found"
    if isinstance(ex, PermissionError):
        return "permission denied"
    return f"cannot be read: {(ex.strerror or str(ex)).lower()}"


def open_file(path: Optional[str]) -> Tuple[BinaryIO, os.stat_result]:
    """The open binary file at ``path`` and its stat, only when it is a regular local file;
    ImageError with the reason otherwise. A FIFO or device is never opened; ``O_NONBLOCK``
    and a second check on the open file cover one swapped in between."""
    if not path:
        raise ImageError("no file name")
    if is_url(path):
        raise ImageError("URLs are not read; only local files (download the photos first)")
    try:
        problem = kind_problem(os.stat(path).st_mode)
        if problem:
            raise ImageError(problem)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_BINARY", 0))
    except OSError as ex:
        raise ImageError(os_problem(ex)) from None
    f = os.fdopen(fd, "rb")
    info = os.fstat(fd)
    problem = kind_problem(info.st_mode)
    if problem:
        f.close()
        raise ImageError(problem)
    return f, info


def read_bytes(path: Optional[str], max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The contents of a regular file of at most ``max_bytes``; ImageError otherwise."""
    f, info = open_file(path)
    with f:
        if info.st_size > max_bytes:
            raise ImageError(f"file too large ({info.st_size} bytes)")
        try:  # read(n) allocates n bytes up front: ask for the size stat gave
            data = f.read(info.st_size + 1)
            if len(data) > info.st_size:  # still being written: up to the limit
                data += f.read(max_bytes + 1 - len(data))
        except OSError as ex:
            raise ImageError(os_problem(ex)) from None
    if len(data) > max_bytes:
        raise ImageError(f"file too large (over {max_bytes} bytes)")
    return data


def truncation(data: bytes) -> str:
    """Why the image in ``data`` ends early ("" when its structure is whole or its format
    is not checked here)."""
    if data.startswith(_JPEG_SOI):
        scan = _jpeg_main_scan(data)
        if scan < 0 or data.rfind(_JPEG_EOI) < scan:
            return "the JPEG data ends early"
    elif data.startswith(_PNG_SIGNATURE):
        if not _png_has_end(data):
            return "the PNG data ends early"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        if len(data) < 8 + int.from_bytes(data[4:8], "little"):
            return "the WebP data ends early"
    return ""


def _jpeg_main_scan(data: bytes) -> int:
    """Offset of the main image's first start-of-scan, found by skipping every segment by
    its length: an EXIF thumbnail or preview inside APP1/APP2 carries scan and end markers
    of its own, which a search for markers would take for the main image's. -1 when the
    data ends (or the image ends) before any scan."""
    i, n = 2, len(data)
    while i + 1 < n:
        if data[i] != 0xFF:  # junk between segments: decoders skip to the next marker
            i = data.find(b"\xff", i)
            if i < 0:
                return -1
            continue
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker == _JPEG_SOS:
            return i
        elif marker == _JPEG_EOI[1]:
            return -1
        elif marker in _JPEG_STANDALONE:
            i += 2
        else:
            if i + 4 > n:
                return -1
            i += 2 + int.from_bytes(data[i + 2:i + 4], "big")
    return -1


def _png_has_end(data: bytes) -> bool:
    """Whether the chunks, followed by their lengths, reach a whole IEND chunk."""
    i, n = len(_PNG_SIGNATURE), len(data)
    while i + 12 <= n:
        length = int.from_bytes(data[i:i + 4], "big")
        if data[i + 4:i + 8] == b"IEND":
            return True
        i += 12 + length
    return False


@contextmanager
def open_image(data: bytes):
    """Pillow's image of ``data`` (any format Pillow or pillow-heif reads), for decoding
    pixels; ImageError when the data ends early. Pillow's own exceptions pass through."""
    from PIL import Image
    register_heif()
    problem = truncation(data)
    if problem:
        raise ImageError(f"corrupt or truncated image: {problem}")
    with Image.open(io.BytesIO(data)) as im:
        yield im
