"""Image checks and derivatives with Pillow: pure functions over bytes, paths and files, plus two store helpers.

`inspect_image` answers "is this upload the image it claims to be, and what does its EXIF say": it never
raises for hostile input, every failure becomes a stable reason code. Pixel limits are checked on the header,
before anything is decoded, so a decompression bomb costs nothing. JPEGs are decoded with draft mode (libjpeg's
DCT scaling at 1/2, 1/4 or 1/8), which still reads the whole entropy-coded stream - enough to detect a truncated
file - at a fraction of the time and memory of a full decode.

`make_derivatives` renders a thumbnail and a phone preview as JPEG, oriented by EXIF, without metadata (no GPS
leaks through a thumbnail). `process_image` is what the worker runs for a stored attachment: one decode gives
the check and the derivatives, which are stored content-addressed in the same store.
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import math
import os
import re
import shutil
import tempfile
import warnings
from typing import IO, Any, Iterator, Mapping, Union

from PIL import Image, ImageOps

from media.store import Store

Source = Union[str, os.PathLike, bytes, IO[bytes]]

# stable reason codes, stored with the attachment and shown to supervisors
NOT_AN_IMAGE = "not_an_image"
UNSUPPORTED_FORMAT = "unsupported_format"
TOO_MANY_PIXELS = "too_many_pixels"
TOO_LARGE = "dimensions_too_large"
TRUNCATED = "truncated"
CORRUPT = "corrupt"
TYPE_MISMATCH = "type_mismatch"
REASONS = (NOT_AN_IMAGE, UNSUPPORTED_FORMAT, TOO_MANY_PIXELS, TOO_LARGE, TRUNCATED, CORRUPT, TYPE_MISMATCH)

#: formats Pillow may decode for us; other decoders are never run on uploads (smaller attack surface)
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
#: what an upload the check decoded as one of these formats is served as; anything else is only downloaded
SERVED_TYPES: Mapping[str, str] = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
#: derivative name → longest side in pixels
DERIVATIVE_SIZES: Mapping[str, int] = {"thumb": 256, "preview": 1280}

_EXTENSIONS = {".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG", ".png": "PNG", ".webp": "WEBP",
               ".gif": "GIF", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF", ".heic": "HEIF", ".heif": "HEIF",
               ".avif": "AVIF"}
_MIME_TYPES = {"image/jpeg": "JPEG", "image/jpg": "JPEG", "image/pjpeg": "JPEG", "image/png": "PNG",
               "image/webp": "WEBP", "image/gif": "GIF", "image/bmp": "BMP", "image/tiff": "TIFF",
               "image/heic": "HEIF", "image/heif": "HEIF", "image/avif": "AVIF"}

# EXIF tags (Pillow's ExifTags names in comments)
_ORIENTATION = 0x0112
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME_ORIGINAL, _DATETIME_DIGITIZED = 0x9003, 0x9004
_OFFSET_ORIGINAL, _OFFSET_DIGITIZED = 0x9011, 0x9012
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON, _GPS_TIME, _GPS_DATE = 1, 2, 3, 4, 7, 29


@dataclasses.dataclass(frozen=True)
class ImageLimits:
    #: width × height above which nothing is decoded (Pillow's own global limit, 89.5 MP, also applies)
    max_pixels: int = 80_000_000
    #: longest side above which nothing is decoded
    max_side: int = 20_000


DEFAULT_LIMITS = ImageLimits()


@dataclasses.dataclass(frozen=True)
class ImageCheck:
    """What an upload turned out to be. `reason` is None when it is a sound image of the type it claims."""

    #: one of REASONS, or None
    reason: str | None
    #: Pillow's format name ("JPEG", "PNG", …) when the header could be read
    format: str | None = None
    #: size as stored, before EXIF orientation
    width: int | None = None
    height: int | None = None
    #: EXIF orientation 1-8 (6 and 8: the camera was held upright, width and height swap on display)
    orientation: int | None = None
    #: EXIF DateTimeOriginal; timezone-aware when OffsetTimeOriginal is present, else naive camera-local time
    taken_at: dt.datetime | None = None
    #: EXIF GPS (latitude, longitude) in decimal degrees, WGS84
    gps: tuple[float, float] | None = None
    #: EXIF GPS date and time stamp, always UTC
    gps_at: dt.datetime | None = None
    #: what the check tripped on, for logs; not for users
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None

    @property
    def is_image(self) -> bool:
        """Decodable: sound, or sound but of another type than declared (derivatives can still be made)."""
        return self.reason in (None, TYPE_MISMATCH)

    @property
    def display_size(self) -> tuple[int, int] | None:
        if self.width is None or self.height is None:
            return None
        if self.orientation in (5, 6, 7, 8):
            return self.height, self.width
        return self.width, self.height

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, e.g. for a JSON column."""
        return {
            "ok": self.ok, "reason": self.reason, "format": self.format, "width": self.width,
            "height": self.height, "orientation": self.orientation,
            "taken_at": self.taken_at.isoformat() if self.taken_at else None,
            "gps": list(self.gps) if self.gps else None,
            "gps_at": self.gps_at.isoformat() if self.gps_at else None,
            "detail": self.detail,
        }


class ImageRejected(Exception):
    """Raised by the rendering functions when the source cannot be made into derivatives."""

    def __init__(self, reason: str, detail: str | None = None):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclasses.dataclass(frozen=True)
class ImageReport:
    """What the worker records for one stored attachment."""

    check: ImageCheck
    #: derivative name → sha256 in the same store; empty when the attachment is not a usable image
    derivatives: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {**self.check.as_dict(), "derivatives": dict(self.derivatives)}


# ---------------------------------------------------------------------------------------------- public API

def looks_like_image(declared_name: str | None, declared_type: str | None) -> bool:
    """Whether the sender says this attachment is an image (by file name or content type)."""
    return bool(_declared_formats(declared_name, declared_type)) or (declared_type or "").startswith("image/")


def served_type(image_check: str | None, image_info: Mapping[str, Any] | None) -> str | None:
    """The image type a stored upload may be shown as: the format the check itself decoded, never the type the
    sender declared (a cadre's phone, or anyone with a login, can send HTML named f.jpg as text/html). None:
    not checked yet, not decodable, or not an image at all."""
    if image_check not in ("ok", TYPE_MISMATCH) or not image_info:
        return None
    return SERVED_TYPES.get(image_info.get("format"))


def inspect_image(source: Source, declared_name: str | None = None, declared_type: str | None = None,
                  limits: ImageLimits = DEFAULT_LIMITS) -> ImageCheck:
    """Check an upload; never raises for what the upload contains (any failure becomes a reason)."""
    try:
        with _guarded(), _seekable(source) as fp:
            check, _image = _examine(fp, declared_name, declared_type, limits, target=64)
            return check
    except Exception as exc:  # noqa: BLE001 - hostile input must not escape as an exception
        return ImageCheck(CORRUPT, detail=_describe(exc))


def make_derivatives(source: Source, sizes: Mapping[str, int] = DERIVATIVE_SIZES,
                     limits: ImageLimits = DEFAULT_LIMITS) -> dict[str, bytes]:
    """JPEG derivatives, EXIF-oriented and without metadata, each fitting a square of its size.

    The source is decoded once, with JPEG draft mode at the smallest scale that still covers the largest
    derivative; smaller derivatives are resized from larger ones. Raises ImageRejected when the source is
    not a decodable image within the limits.
    """
    with _guarded(), _seekable(source) as fp:
        check, image = _examine(fp, None, None, limits, target=max(sizes.values()))
        if image is None:
            raise ImageRejected(check.reason or CORRUPT, check.detail)
        try:
            return _render(image, sizes)
        except Exception as exc:  # noqa: BLE001
            raise ImageRejected(CORRUPT, _describe(exc)) from exc


def make_thumbnail(source: Source, size: int = DERIVATIVE_SIZES["thumb"],
                   limits: ImageLimits = DEFAULT_LIMITS) -> bytes:
    return make_derivatives(source, {"thumb": size}, limits)["thumb"]


def store_derivatives(store: Store, sha256: str, sizes: Mapping[str, int] = DERIVATIVE_SIZES,
                      limits: ImageLimits = DEFAULT_LIMITS) -> dict[str, str]:
    """Render the stored original's derivatives into the same store; name → sha256.

    Idempotent: the same original gives byte-identical derivatives (same Pillow), which content addressing
    stores once. Raises ImageRejected when the original is not a usable image, BlobNotFound when absent.
    """
    with _local_copy(store, sha256) as fp:
        rendered = make_derivatives(fp, sizes, limits)
    return {name: store.put_bytes(data) for name, data in rendered.items()}


def process_image(store: Store, sha256: str, declared_name: str | None, declared_type: str | None,
                  limits: ImageLimits = DEFAULT_LIMITS,
                  sizes: Mapping[str, int] = DERIVATIVE_SIZES) -> ImageReport:
    """The worker's job for one attachment: check it and store its derivatives, in one decode.

    Never raises for what the file contains; store errors (network, disk) do raise, so the job is retried.
    """
    with _local_copy(store, sha256) as fp:
        try:
            with _guarded():
                check, image = _examine(fp, declared_name, declared_type, limits, target=max(sizes.values()))
                rendered: dict[str, bytes] = {}
                if image is not None:
                    try:
                        rendered = _render(image, sizes)
                    except Exception as exc:  # noqa: BLE001 - decoded, but could not be rendered
                        check = dataclasses.replace(check, reason=CORRUPT, detail=_describe(exc))
        except Exception as exc:  # noqa: BLE001
            return ImageReport(ImageCheck(CORRUPT, detail=_describe(exc)), {})
    return ImageReport(check, {name: store.put_bytes(data) for name, data in rendered.items()})


# --------------------------------------------------------------------------------------------- internals

def _examine(fp: IO[bytes], declared_name: str | None, declared_type: str | None, limits: ImageLimits,
             target: int) -> tuple[ImageCheck, Image.Image | None]:
    """Open, check limits, decode (JPEG: draft to `target`), read EXIF; the decoded image when usable.

    Images are never close()d here: Pillow's close() would close `fp`, which may be the caller's file.
    Dropping the image frees its pixels.
    """
    try:
        image = Image.open(fp, formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return ImageCheck(TOO_MANY_PIXELS, format=_sniff(fp), detail=_describe(exc)), None
    except Exception as exc:  # noqa: BLE001
        return _unopenable(fp, exc), None

    fmt = "JPEG" if image.format == "MPO" else image.format
    width, height = image.size
    base = ImageCheck(None, format=fmt, width=width, height=height)
    if width * height > limits.max_pixels:
        return dataclasses.replace(base, reason=TOO_MANY_PIXELS, detail=f"{width}×{height} pixels"), None
    if max(width, height) > limits.max_side:
        return dataclasses.replace(base, reason=TOO_LARGE, detail=f"{width}×{height} pixels"), None

    try:
        if fmt == "JPEG":
            request = _draft_request(image.size, target)
            if request:
                image.draft("RGB", request)
        image.load()
    except Exception as exc:  # noqa: BLE001
        message = _describe(exc)
        # EXIF of a broken file still tells when and where (read after decoding: for PNG, reading EXIF
        # decodes the image first, and would swallow the error)
        base = dataclasses.replace(base, **_metadata(image))
        return dataclasses.replace(base, reason=TRUNCATED if "truncated" in message.lower() else CORRUPT,
                                   detail=message), None
    base = dataclasses.replace(base, **_metadata(image))

    declared = _declared_formats(declared_name, declared_type)
    if declared and declared != {fmt}:
        said = "/".join(sorted(declared))
        return dataclasses.replace(base, reason=TYPE_MISMATCH, detail=f"declared {said}, content is {fmt}"), image
    return base, image


def _unopenable(fp: IO[bytes], exc: Exception) -> ImageCheck:
    sniffed = _sniff(fp)
    message = _describe(exc)
    if sniffed in ACCEPTED_FORMATS:
        return ImageCheck(TRUNCATED if "truncated" in message.lower() else CORRUPT, format=sniffed, detail=message)
    if sniffed is not None:
        return ImageCheck(UNSUPPORTED_FORMAT, format=sniffed, detail=message)
    return ImageCheck(NOT_AN_IMAGE, detail=message)


def _sniff(fp: IO[bytes]) -> str | None:
    """The format the first bytes announce, whether or not Pillow could open it."""
    try:
        fp.seek(0)
        head = fp.read(32)
    except Exception:  # noqa: BLE001
        return None
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[:2] == b"BM" and len(head) >= 26:
        return "BMP"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "AVIF"
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1"):
            return "HEIF"
    return None


def _declared_formats(declared_name: str | None, declared_type: str | None) -> set[str]:
    formats = set()
    if declared_name:
        ext = _EXTENSIONS.get(os.path.splitext(declared_name)[1].lower())
        if ext:
            formats.add(ext)
    if declared_type:
        mime = _MIME_TYPES.get(declared_type.split(";")[0].strip().lower())
        if mime:
            formats.add(mime)
    return formats


def _draft_request(size: tuple[int, int], target: int) -> tuple[int, int] | None:
    """The smallest size draft mode may shrink to so that the longest side still covers `target`."""
    longest = max(size)
    if longest <= target:
        return None
    return max(1, math.ceil(size[0] * target / longest)), max(1, math.ceil(size[1] * target / longest))


def _render(image: Image.Image, sizes: Mapping[str, int]) -> dict[str, bytes]:
    icc = image.info.get("icc_profile")
    image = ImageOps.exif_transpose(image)
    image = _to_rgb(image)
    out = {}
    for name, side in sorted(sizes.items(), key=lambda item: -item[1]):
        if max(image.size) > side:
            scale = side / max(image.size)
            target = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(target, Image.Resampling.BICUBIC, reducing_gap=2.0)
        buffer = io.BytesIO()
        # no exif=, no xmp=: derivatives carry no metadata, in particular no GPS
        image.save(buffer, "JPEG", quality=80 if side <= 512 else 85, icc_profile=icc)
        out[name] = buffer.getvalue()
    return out


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGB", "L"):
        return image
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _metadata(image: Image.Image) -> dict[str, Any]:
    """Orientation, capture time and GPS from EXIF; a damaged EXIF block just yields less."""
    found: dict[str, Any] = {}
    try:
        exif = image.getexif()
    except Exception:  # noqa: BLE001
        return found
    with contextlib.suppress(Exception):
        orientation = exif.get(_ORIENTATION)
        if isinstance(orientation, int) and 1 <= orientation <= 8:
            found["orientation"] = orientation
    with contextlib.suppress(Exception):
        ifd = exif.get_ifd(_EXIF_IFD)
        for when, offset in ((_DATETIME_ORIGINAL, _OFFSET_ORIGINAL), (_DATETIME_DIGITIZED, _OFFSET_DIGITIZED)):
            taken = _exif_datetime(ifd.get(when), ifd.get(offset))
            if taken is not None:
                found["taken_at"] = taken
                break
    with contextlib.suppress(Exception):
        gps = exif.get_ifd(_GPS_IFD)
        lat = _degrees(gps.get(_GPS_LAT), gps.get(_GPS_LAT_REF), "S", 90)
        lon = _degrees(gps.get(_GPS_LON), gps.get(_GPS_LON_REF), "W", 180)
        # (0, 0) is what several cameras write when they had no fix
        if lat is not None and lon is not None and (lat, lon) != (0.0, 0.0):
            found["gps"] = (lat, lon)
        gps_at = _gps_datetime(gps.get(_GPS_DATE), gps.get(_GPS_TIME))
        if gps_at is not None:
            found["gps_at"] = gps_at
    return found


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    return value.replace("\x00", "").strip() or None


def _exif_datetime(value: Any, offset: Any) -> dt.datetime | None:
    text = _text(value)
    if not text:
        return None
    try:
        taken = dt.datetime.strptime(text[:19].replace("-", ":"), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    zone = _text(offset)
    if zone and len(zone) == 6 and zone[0] in "+-" and zone[3] == ":":
        with contextlib.suppress(ValueError):
            delta = dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
            if delta < dt.timedelta(hours=15):
                taken = taken.replace(tzinfo=dt.timezone(-delta if zone[0] == "-" else delta))
    return taken


def _number(value: Any) -> float | None:
    try:
        if isinstance(value, tuple) and len(value) == 2:
            number = float(value[0]) / float(value[1])
        else:
            number = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _degrees(value: Any, ref: Any, negative: str, limit: float) -> float | None:
    if isinstance(value, (tuple, list)) and len(value) == 3:
        parts = [_number(part) for part in value]
        if any(part is None or part < 0 for part in parts):
            return None
        degrees = parts[0] + parts[1] / 60 + parts[2] / 3600
    else:
        degrees = _number(value)
        if degrees is None:
            return None
    if _text(ref) == negative:
        degrees = -degrees
    return round(degrees, 7) if abs(degrees) <= limit else None


def _gps_datetime(date: Any, time: Any) -> dt.datetime | None:
    text = _text(date)
    if not text or not isinstance(time, (tuple, list)) or len(time) != 3:
        return None
    parts = [_number(part) for part in time]
    if any(part is None or part < 0 for part in parts):
        return None
    try:
        day = dt.datetime.strptime(text[:10].replace("-", ":"), "%Y:%m:%d")
        return day.replace(tzinfo=dt.timezone.utc) + dt.timedelta(hours=parts[0], minutes=parts[1], seconds=parts[2])
    except (ValueError, OverflowError):
        return None


#: a file object's repr, or a quoted absolute path, inside an exception's message
_FILE_NAMES = re.compile(r"<[^<>]*\bname=[^<>]*>|'(?:/|[A-Za-z]:\\)[^']*'")


def without_paths(text: str | None) -> str | None:
    """`text` without the files it names: a check's detail is shown to supervisors and in the API, and a media
    store's path tells an attacker where the server keeps its files. Also for details recorded before."""
    return None if text is None else _FILE_NAMES.sub("the file", text)


def _describe(exc: BaseException) -> str:
    return without_paths(f"{type(exc).__name__}: {exc}")[:500]


@contextlib.contextmanager
def _guarded() -> Iterator[None]:
    """Pillow's warnings are not errors of ours, except its decompression-bomb warning, which is a verdict.

    warnings.catch_warnings is process-global in Python 3.11: run image work in one thread per process (the
    worker does); the header pixel limit above protects even when another thread changes the filters.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


@contextlib.contextmanager
def _seekable(source: Source) -> Iterator[IO[bytes]]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield io.BytesIO(source)
    elif isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            yield handle
    elif getattr(source, "seekable", lambda: False)():
        yield source
    else:
        with tempfile.TemporaryFile() as copy:
            shutil.copyfileobj(source, copy, 1024 * 1024)
            copy.seek(0)
            yield copy


@contextlib.contextmanager
def _local_copy(store: Store, sha256: str) -> Iterator[IO[bytes]]:
    """The stored blob as a file with cheap seeks: itself on local disk, else a temporary copy."""
    with store.open(sha256) as blob:
        if blob.path is not None:
            yield blob
            return
        with tempfile.TemporaryFile(dir=store.tmp_dir) as copy:
            shutil.copyfileobj(blob, copy, 1024 * 1024)
            copy.seek(0)
            yield copy


__all__ = [
    "ACCEPTED_FORMATS", "CORRUPT", "DEFAULT_LIMITS", "DERIVATIVE_SIZES", "ImageCheck", "ImageLimits",
    "ImageRejected", "ImageReport", "NOT_AN_IMAGE", "REASONS", "TOO_LARGE", "TOO_MANY_PIXELS", "TRUNCATED",
    "SERVED_TYPES", "TYPE_MISMATCH", "UNSUPPORTED_FORMAT", "inspect_image", "looks_like_image", "make_derivatives",
    "make_thumbnail", "process_image", "served_type", "store_derivatives", "without_paths",
]
