"""Checks on an uploaded XLSForm before any parser touches it.

openpyxl and xlrd trust their input: a zip bomb exhausts memory and a renamed file
gives a confusing traceback. These checks are cheap (headers and zip directory only).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePath

from forms.errors import FormError

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
#: Uncompressed size allowed for the parts of an .xlsx (sum over members).
DEFAULT_MAX_UNCOMPRESSED = 100 * 1024 * 1024
#: Real spreadsheets compress 5-20x; bombs compress 1000x or more.
DEFAULT_MAX_RATIO = 200

SUPPORTED = ("xlsx", "xlsm", "xls", "csv", "md")
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"


def file_type_of(filename: str) -> str:
    """Return the extension (without dot, lower case) or raise DS003."""
    suffix = PurePath(filename.replace("\\", "/")).suffix.lower().lstrip(".")
    if suffix not in SUPPORTED:
        raise FormError("DS003", {"extension": suffix or filename})
    return suffix


def check_upload(
    data: bytes,
    filename: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED,
    max_ratio: float = DEFAULT_MAX_RATIO,
) -> str:
    """Validate size, magic bytes and zip structure; return the file type (e.g. 'xlsx')."""
    file_type = file_type_of(filename)
    name = PurePath(filename.replace("\\", "/")).name
    if len(data) > max_bytes:
        raise FormError("DS001", {"size": len(data), "limit": max_bytes})
    if not data:
        raise FormError("DS002")
    if file_type in ("xlsx", "xlsm"):
        if data.startswith(OLE2_MAGIC):
            raise FormError("DS006", {"filename": name})
        if not data.startswith(ZIP_MAGIC):
            raise FormError("DS005", {"filename": name})
        _check_zip(data, max_uncompressed, max_ratio)
    elif file_type == "xls":
        if not data.startswith(OLE2_MAGIC):
            raise FormError("DS007", {"filename": name})
    else:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise FormError("DS008", {"filename": name}) from err
        if b"\x00" in data:
            raise FormError("DS008", {"filename": name})
    return file_type


def _check_zip(data: bytes, max_uncompressed: int, max_ratio: float) -> None:
    """Read the zip central directory only: declared sizes, no decompression.

    Declared sizes are a safe bound: zipfile stops reading a member at its declared
    file_size, so a lying header cannot make openpyxl inflate more than this.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise FormError("DS009") from err
    total = sum(i.file_size for i in infos)
    compressed = sum(i.compress_size for i in infos) or 1
    ratio = total / compressed
    worst = max((i.file_size / max(i.compress_size, 1) for i in infos), default=0.0)
    if total > max_uncompressed or (total > 1024 * 1024 and max(ratio, worst) > max_ratio):
        raise FormError("DS004", {"uncompressed": total, "ratio": f"{max(ratio, worst):.0f}"})
