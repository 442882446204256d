"""File formats of the virtual card: PTP format codes, header dimensions, thumbnails, test JPEGs."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from PIL import ExifTags, Image, ImageDraw, ImageFont

from ptpip.ptp.codes import ObjectFormatCode

__all__ = [
    "FORMATS",
    "SIZED_FORMATS",
    "THUMB_SIZE",
    "generate_jpeg",
    "generate_sample_images",
    "jpeg_dimensions",
    "make_thumbnail",
    "object_format",
    "png_dimensions",
    "sample_images",
    "thumb_size",
]

#: The box a thumbnail is fitted into (the DCF thumbnail size).
THUMB_SIZE = (160, 120)
#: File extension (lower case) -> ISO 15740 object format; anything else is 0x3000 Undefined.
FORMATS: dict[str, int] = {
    ".jpg": ObjectFormatCode.EXIF_JPEG,
    ".jpeg": ObjectFormatCode.EXIF_JPEG,
    ".dng": ObjectFormatCode.DNG,
    ".tif": ObjectFormatCode.TIFF,
    ".tiff": ObjectFormatCode.TIFF,
    ".png": ObjectFormatCode.PNG,
    ".bmp": ObjectFormatCode.BMP,
    ".gif": ObjectFormatCode.GIF,
    ".jp2": ObjectFormatCode.JP2,
    ".mov": ObjectFormatCode.QT,
    ".avi": ObjectFormatCode.AVI,
    ".mpg": ObjectFormatCode.MPEG,
    ".mpeg": ObjectFormatCode.MPEG,
    ".asf": ObjectFormatCode.ASF,
    ".mp3": ObjectFormatCode.MP3,
    ".wav": ObjectFormatCode.WAV,
    ".aif": ObjectFormatCode.AIFF,
    ".aiff": ObjectFormatCode.AIFF,
    ".txt": ObjectFormatCode.TEXT,
    ".htm": ObjectFormatCode.HTML,
    ".html": ObjectFormatCode.HTML,
    ".mrk": ObjectFormatCode.DPOF,
}
#: ObjectInfo reports dimensions (and a thumbnail) for the formats whose header we parse.
SIZED_FORMATS = frozenset({ObjectFormatCode.EXIF_JPEG, ObjectFormatCode.PNG})
_SOF_MARKERS = frozenset(
    {*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), 0xCD, 0xCE, 0xCF}
)
_STANDALONE_MARKERS = frozenset({0x01, *range(0xD0, 0xD8)})
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def object_format(name: str) -> int:
    """The object format of a file called ``name``, from its extension."""
    return FORMATS.get(os.path.splitext(name)[1].lower(), ObjectFormatCode.UNDEFINED)


def thumb_size(width: int, height: int) -> tuple[int, int]:
    """The thumbnail size of a width×height image: fitted into THUMB_SIZE, never enlarged."""
    scale = min(THUMB_SIZE[0] / width, THUMB_SIZE[1] / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def jpeg_dimensions(fp: BinaryIO) -> tuple[int, int, int] | None:
    """(width, height, bit depth) from a JPEG's SOF header, reading only the headers."""
    if fp.read(2) != b"\xff\xd8":
        return None
    for _ in range(256):  # real files reach SOF within a dozen segments
        if fp.read(1) != b"\xff":
            return None
        marker = fp.read(1)
        while marker == b"\xff":  # fill bytes (ITU T.81 §B.1.1.2)
            marker = fp.read(1)
        if not marker:
            return None
        code = marker[0]
        if code in _STANDALONE_MARKERS:
            continue
        if code in (0xD9, 0xDA):  # EOI or SOS before any SOF
            return None
        raw = fp.read(2)
        length = int.from_bytes(raw, "big")
        if len(raw) < 2 or length < 2:
            return None
        if code in _SOF_MARKERS:
            body = fp.read(6)
            if len(body) < 6:
                return None
            precision, components = body[0], body[5]
            height = int.from_bytes(body[1:3], "big")
            width = int.from_bytes(body[3:5], "big")
            return width, height, precision * components
        fp.seek(length - 2, io.SEEK_CUR)
    return None


def png_dimensions(fp: BinaryIO) -> tuple[int, int, int] | None:
    head = fp.read(26)
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    width = int.from_bytes(head[16:20], "big")
    height = int.from_bytes(head[20:24], "big")
    return width, height, head[24] * _PNG_CHANNELS.get(head[25], 1)


def make_thumbnail(fp: BinaryIO) -> bytes | None:
    """A JPEG of the image in ``fp`` fitted into THUMB_SIZE; None if Pillow cannot read it."""
    try:
        with Image.open(fp) as img:
            size = thumb_size(*img.size)
            img.draft("RGB", size)  # JPEG: decode at 1/2…1/8 scale, far cheaper on big files
            thumb = img.convert("RGB").resize(size, Image.Resampling.BILINEAR)
    except Exception:  # Pillow raises many types on broken files; none is fatal here
        return None
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=80)
    return out.getvalue()


def generate_jpeg(
    number: int,
    *,
    model: str = "ptpip virtual camera",
    when: datetime | None = None,
    size: tuple[int, int] = (640, 480),
    label: str | None = None,
) -> bytes:
    """A baseline EXIF JPEG test pattern that differs per ``number``, captioned ``label``."""
    when = when or datetime.now()
    width, height = size
    ramp = Image.linear_gradient("L")
    red = ramp.resize(size)
    green = ramp.transpose(Image.Transpose.ROTATE_90).resize(size)
    blue = Image.new("L", size, (number * 53) % 256)
    img = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(img)
    bars = ((255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0))
    bar_width = width / len(bars)
    for i, colour in enumerate(bars):
        draw.rectangle((round(i * bar_width), 0, round((i + 1) * bar_width), height // 8), colour)
    radius = min(size) // 6
    cx = radius + (number * 97) % max(1, width - 2 * radius)
    cy = height // 2
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline="white", width=4)
    font = ImageFont.load_default(size=max(12, height // 12))
    draw.text((width // 20, height - height // 4), label or f"#{number}", fill="white", font=font)
    draw.text(
        (width // 20, height - height // 8),
        when.strftime("%Y-%m-%d %H:%M:%S"),
        fill="white",
        font=font,
    )
    stamp = when.strftime("%Y:%m:%d %H:%M:%S")
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "ptpip"
    exif[ExifTags.Base.Model] = model
    exif[ExifTags.Base.Orientation] = 1
    exif[ExifTags.Base.DateTime] = stamp
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = stamp
    sub[ExifTags.Base.DateTimeDigitized] = stamp
    sub[ExifTags.Base.ExifImageWidth] = width
    sub[ExifTags.Base.ExifImageHeight] = height
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85, exif=exif)  # Pillow writes baseline unless asked otherwise
    return out.getvalue()


def sample_images(
    count: int = 4,
    *,
    model: str = "ptpip virtual camera",
    clock: Callable[[], datetime] = datetime.now,
) -> Iterator[tuple[str, bytes, float]]:
    """(name, JPEG, timestamp) of ``count`` test pictures IMG_0001.JPG…, a minute apart."""
    now = clock().replace(microsecond=0)
    for index in range(count):
        number = index + 1
        name = f"IMG_{number:04d}.JPG"
        when = now - timedelta(minutes=count - index - 1)
        yield name, generate_jpeg(number, model=model, when=when, label=name), when.timestamp()


def generate_sample_images(
    folder: Path,
    count: int = 4,
    *,
    model: str = "ptpip virtual camera",
    clock: Callable[[], datetime] = datetime.now,
) -> list[Path]:
    """Write ``count`` test JPEGs IMG_0001.JPG… into ``folder`` (made if needed), a minute apart."""
    folder.mkdir(parents=True, exist_ok=True)
    now = clock().replace(microsecond=0)
    written: list[Path] = []
    number = 0
    while len(written) < count and number < 9999:
        number += 1
        path = folder / f"IMG_{number:04d}.JPG"
        when = now - timedelta(minutes=count - len(written) - 1)
        try:
            with open(path, "xb") as out:
                out.write(generate_jpeg(number, model=model, when=when, label=path.name))
        except FileExistsError:
            continue
        stamp = when.timestamp()
        os.utime(path, (stamp, stamp))  # ObjectInfo dates then match DateTimeOriginal
        written.append(path)
    return written
