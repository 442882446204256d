"""The virtual EOS's live-view payload: GetViewFinderData (0x9153) blocks (vendor-canon.md §12).

Each call renders a new 640×480 frame (a moving bar and the frame number) as the type-1 JPEG
block, followed by the small blocks of the vector ``canon/eos_liveview.jpg`` verbatim, a
type-3 block the vector's size, and the type-0, length-8 end block. Rendering takes a few
milliseconds, so callers run :meth:`Viewfinder.blocks` in an executor.
"""

from __future__ import annotations

import io
import struct

from PIL import Image, ImageDraw, ImageFont

from ptpip.vendors.canon.codec import ViewfinderBlock

__all__ = ["FRAME_SIZE", "Viewfinder"]

FRAME_SIZE = (640, 480)
#: The vector's blocks besides the JPEG and the type-3 one, in its order.
_EXTRAS = (
    ViewfinderBlock(0x04, bytes.fromhex("01000000")),
    ViewfinderBlock(0x05, bytes.fromhex("1008000062050000")),
    ViewfinderBlock(0x06, bytes(8)),
    ViewfinderBlock(0x0C, bytes(4)),
    ViewfinderBlock(0x0D, bytes.fromhex("100800006205000008040000b0020000")),
    ViewfinderBlock(0x0E, bytes.fromhex("28140000740d0000")),  # LV coordinates 5160 × 3444
    ViewfinderBlock(0x0A, bytes.fromhex("b06ad964c2020000")),
    ViewfinderBlock(0x07, bytes.fromhex("01000000")),
)
#: The vector's type-3 block is 4096 bytes starting 1, 0x57, 0x10; its meaning is unverified
#: (a histogram, perhaps). Here: that header, Y/R/G/B counts of the frame in 255 bins, a 0.
_TYPE3_HEAD = (1, 0x57, 0x10)


class Viewfinder:
    """Renders numbered live-view frames captioned with the model name."""

    def __init__(self, model: str) -> None:
        self.model = model
        self._background: Image.Image | None = None

    def blocks(self, number: int) -> list[ViewfinderBlock]:
        img = self.frame(number)
        out = io.BytesIO()
        img.save(out, "JPEG", quality=70)
        return [
            ViewfinderBlock(0x01, out.getvalue()),
            *_EXTRAS,
            ViewfinderBlock(0x03, _type3(img)),
            ViewfinderBlock(0x00, b""),
        ]

    def frame(self, number: int) -> Image.Image:
        if self._background is None:
            ramp = Image.linear_gradient("L")
            red, green = ramp.resize(FRAME_SIZE), ramp.rotate(90).resize(FRAME_SIZE)
            self._background = Image.merge("RGB", (red, green, Image.new("L", FRAME_SIZE, 96)))
        img = self._background.copy()
        draw = ImageDraw.Draw(img)
        x = 40 + (number * 12) % (FRAME_SIZE[0] - 120)
        draw.rectangle((x, 200, x + 40, 280), fill="white")
        font = ImageFont.load_default(size=36)
        draw.text((24, 20), f"{self.model} live view", fill="white", font=font)
        draw.text((24, 420), f"frame {number}", fill="white", font=font)
        return img


def _type3(img: Image.Image) -> bytes:
    rgb = img.histogram()
    luma = img.convert("L").histogram()
    channels = (luma, rgb[0:256], rgb[256:512], rgb[512:768])
    values = [*_TYPE3_HEAD]
    for index in range(255):
        values += (channel[index] for channel in channels)
    values.append(0)
    return struct.pack(f"<{len(values)}I", *values)
