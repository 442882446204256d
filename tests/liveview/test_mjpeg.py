"""MJPEG framing both ways: multipart parts, and raw MJPEG split back into JPEGs."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from ptpip.liveview.mjpeg import (
    BOUNDARY,
    CONTENT_TYPE,
    JpegSplitter,
    MultipartReader,
    http_part,
    jpeg_end,
)


def jpeg(size: tuple[int, int] = (64, 48), colour: str = "red", **save: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", **save)
    return out.getvalue()


def with_exif_thumbnail() -> bytes:
    """A JPEG whose APP1 (EXIF) segment holds a whole JPEG thumbnail, EOI included."""
    image = Image.new("RGB", (80, 60), "blue")
    exif = Image.Exif()
    exif[0x010F] = "ptpip"
    data = io.BytesIO()
    image.save(data, "JPEG", exif=exif.tobytes())
    thumb = jpeg((16, 12), "white")
    plain = data.getvalue()
    # splice a second APP segment carrying the thumbnail bytes right after SOI
    payload = b"ptpip-thumb\x00" + thumb
    segment = b"\xff\xe2" + (len(payload) + 2).to_bytes(2, "big") + payload
    return plain[:2] + segment + plain[2:]


def test_http_part_carries_the_jpeg_unchanged() -> None:
    body = b"\xff\xd8 not even a real JPEG \xff\xd9"
    part = http_part(body, 7, 6)
    assert part.startswith(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n".encode())
    assert (
        f"Content-Length: {len(body)}\r\nX-Frame: 7\r\nX-Camera-Counter: 6\r\n\r\n".encode() in part
    )
    assert part.endswith(body + b"\r\n")
    assert f"multipart/x-mixed-replace; boundary={BOUNDARY}" == CONTENT_TYPE
    assert b"X-Camera-Counter" not in http_part(body, 1)


def test_multipart_reader_reassembles_parts_fed_byte_by_byte() -> None:
    bodies = [jpeg(colour=c) for c in ("red", "green", "blue")]
    stream = b"".join(http_part(b, i + 1, i) for i, b in enumerate(bodies))
    reader = MultipartReader()
    parts = []
    for i in range(0, len(stream), 7):
        parts.extend(reader.feed(stream[i : i + 7]))
    assert [p.body for p in parts] == bodies
    assert [p.headers["x-frame"] for p in parts] == ["1", "2", "3"]


def test_multipart_reader_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="boundary"):
        MultipartReader().feed(b"x" * 10_000)


@pytest.mark.parametrize(
    "image",
    [
        pytest.param(jpeg(), id="baseline"),
        pytest.param(jpeg((320, 240), progressive=True), id="progressive"),
        pytest.param(with_exif_thumbnail(), id="thumbnail-inside"),
    ],
)
def test_jpeg_end_finds_the_real_end(image: bytes) -> None:
    assert jpeg_end(image) == len(image)
    assert jpeg_end(image + b"\xff\xd8") == len(image)
    assert jpeg_end(image[:-1]) is None
    assert jpeg_end(image[: len(image) // 2]) is None


def test_jpeg_end_refuses_what_is_no_jpeg() -> None:
    with pytest.raises(ValueError, match="FFD8"):
        jpeg_end(b"GIF89a....")


def test_splitter_splits_raw_mjpeg_in_any_chunking() -> None:
    images = [jpeg(colour=c) for c in ("red", "green")] + [with_exif_thumbnail()]
    stream = b"".join(images)
    for step in (1, 13, 4096, len(stream)):
        splitter = JpegSplitter()
        got: list[bytes] = []
        for i in range(0, len(stream), step):
            got.extend(splitter.feed(stream[i : i + step]))
        assert got == images
        assert splitter.pending == 0
    for image in images:
        Image.open(io.BytesIO(image)).load()
