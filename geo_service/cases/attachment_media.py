"""What an uploaded file is, read from its own bytes: its type by its magic numbers (never the
sender's file name or Content-Type, which a phone or a script may get wrong or forge), and the
position its camera recorded (EXIF GPS for photos, the ``©xyz`` atom of MP4 and QuickTime
videos), which phones write in WGS84.

Photos of JPEG, PNG and WebP are opened with Pillow to check they are what they claim (a file
that only starts like a JPEG is refused) and to read their EXIF; HEIC photos (iPhones') are
recognised and kept, but Pillow cannot read them, so their position is not offered.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import BinaryIO

from PIL import ExifTags, Image, UnidentifiedImageError

from geo_service.errors import InvalidInput
from geo_service.i18n import t

PHOTOS = ("image/jpeg", "image/png", "image/webp", "image/heic")
VIDEOS = ("video/mp4", "video/quicktime")
MEDIA_TYPES = PHOTOS + VIDEOS  # as migration 0013 allows them
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
}
# ISO base media files (MP4, QuickTime, HEIF) open with an ``ftyp`` box naming brands.
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_MP4_BRANDS = {
    b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"mmp4",
    b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"MSNV", b"dash", b"f4v ",
}  # fmt: skip
_QUICKTIME = b"qt  "
# Pillow's names of the formats each type may be read as (a phone's JPEG with a second, depth
# or preview picture in it opens as MPO).
_FORMATS = {"image/jpeg": {"JPEG", "MPO"}, "image/png": {"PNG"}, "image/webp": {"WEBP"}}
_FORMAT_NAMES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP"}
HEAD_BYTES = 64  # enough of a file's start to tell its type
# A video's place: ISO 6709 text in the ©xyz atom, "+30.0744+104.1277/" (altitude optional).
_XYZ = b"\xa9xyz"
_ISO6709 = re.compile(rb"([+-]\d{1,2}(?:\.\d+)?)([+-]\d{1,3}(?:\.\d+)?)")
_SCAN_CHUNK = 1 << 20
_ATOM_BYTES = 64  # the ©xyz atom's name, length, language and text


@dataclass(frozen=True)
class Described:
    """A file's type, as its bytes say, and the position its camera recorded (WGS84), if any."""

    media_type: str
    position: dict | None

    @property
    def kind(self) -> str:
        return "video" if self.media_type in VIDEOS else "photo"


def sniff(head: bytes) -> str | None:
    """The media type the first bytes of a file announce, among those the service keeps; None
    for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] != b"ftyp" or len(head) < 12:
        return None
    major = head[8:12]
    box = min(int.from_bytes(head[:4], "big"), len(head))
    brands = {major} | {head[i : i + 4] for i in range(16, box - 3, 4)}
    if b"avif" in brands or b"avis" in brands:  # HEIF with AV1 inside: not a type the phones send
        return None
    if major in _HEIC_BRANDS:
        return "image/heic"
    if major == _QUICKTIME:
        return "video/quicktime"
    if major in _MP4_BRANDS:
        return "video/mp4"
    if brands & _HEIC_BRANDS:
        return "image/heic"
    if brands & _MP4_BRANDS:
        return "video/mp4"
    return None


def describe(file: BinaryIO) -> Described:
    """The type of ``file`` (a seekable binary file, read from its start) and its position;
    InvalidInput naming the problem for a file of another type or one that is not what it
    claims to be."""
    file.seek(0)
    head = file.read(HEAD_BYTES)
    if not head:
        raise InvalidInput(t("the file is empty"), field="file")
    media_type = sniff(head)
    if media_type is None:
        raise InvalidInput(
            t(
                "the file is not a photo (JPEG, PNG, WebP, HEIC) or a video (MP4, QuickTime): its bytes begin {head}",
                head=head[:12].hex(" "),
            ),
            field="file",
        )
    file.seek(0)
    if media_type in VIDEOS:
        return Described(media_type, _video_position(file))
    if media_type == "image/heic":
        return Described(media_type, None)
    return Described(media_type, _photo_position(file, media_type))


def _photo_position(file: BinaryIO, media_type: str) -> dict | None:
    """The EXIF GPS position of a photo Pillow reads (its header only: no pixels are decoded)."""
    try:
        with Image.open(file) as image:
            if image.format not in _FORMATS[media_type]:
                raise UnidentifiedImageError(image.format)
            gps = image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise InvalidInput(
            t("the file starts as a {format} photo but cannot be read as one", format=_FORMAT_NAMES[media_type]),
            field="file",
        ) from None
    try:
        lat = _degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), "S")
        lon = _degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), "W")
    except (TypeError, ValueError, ZeroDivisionError):  # a camera's malformed tag: no position
        return None
    return _position(lon, lat)


def _degrees(value, ref, negative: str) -> float | None:
    """Degrees from EXIF's (degrees, minutes, seconds) rationals and its N/S or E/W reference."""
    if value is None:
        return None
    parts = [float(v) for v in (value if isinstance(value, (tuple, list)) else (value,))]
    degrees = sum(part / 60**i for i, part in enumerate(parts[:3]))
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    return -degrees if str(ref or "").strip().upper() == negative else degrees


def _position(lon: float | None, lat: float | None) -> dict | None:
    """A position worth offering: both values, finite, on the Earth, and not 0,0 (what cameras
    without a fix write)."""
    if lon is None or lat is None or not (math.isfinite(lon) and math.isfinite(lat)):
        return None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90) or (lon == 0 and lat == 0):
        return None
    return {"lon": round(lon, 7), "lat": round(lat, 7), "crs": "wgs84"}


def _video_position(file: BinaryIO) -> dict | None:
    """The ISO 6709 position of a video's ``©xyz`` atom, wherever the file keeps its metadata
    (at its end as phones record, or at its start when optimised for streaming). The file is
    read in chunks, each with the end of the one before, so an atom split between two is seen."""
    carry = b""
    while True:
        chunk = file.read(_SCAN_CHUNK)
        window = carry + chunk
        start = 0
        while (at := window.find(_XYZ, start)) >= 0:
            if at + _ATOM_BYTES > len(window) and chunk:
                break  # the rest of it comes with the next chunk
            if (found := _iso6709(window[at + 4 : at + _ATOM_BYTES])) is not None:
                return found
            start = at + 1  # four bytes of picture data that only look like the atom's name
        if not chunk:
            return None
        carry = window[-_ATOM_BYTES:]


def _iso6709(atom: bytes) -> dict | None:
    # The atom: a 2-byte length, a 2-byte language, then the text.
    match = _ISO6709.match(atom[4:])
    return _position(float(match.group(2)), float(match.group(1))) if match else None
