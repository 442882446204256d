"""Fujifilm X-series vendor codes (vendor-fuji.md §4.3, §5, §7.2, §8; libgphoto2 ptp.h)."""

from __future__ import annotations

from enum import IntEnum

from ptpip.ptp.codes import VendorExtensionID

__all__ = [
    "EXTENSION_IDS",
    "MANUFACTURER",
    "TABLES",
    "FujiEvent",
    "FujiObjectFormat",
    "FujiOperation",
    "FujiProperty",
]


class FujiOperation(IntEnum):
    """Fuji operation codes, vendor-fuji.md §5; FUJI_ marks standard-name clashes."""

    FUJI_SEND_OBJECT_INFO = 0x900C
    SEND_OBJECT2 = 0x900D
    FUJI_SEND_OBJECT = 0x901D
    INITIATE_MOVIE_CAPTURE = 0x9020
    TERMINATE_MOVIE_CAPTURE = 0x9021
    GET_CAPTURE_PREVIEW = 0x9022
    STEP_ZOOM = 0x9023
    START_ZOOM = 0x9024
    STOP_ZOOM = 0x9025
    SET_FOCUS_POINT = 0x9026
    LOCK_S1_LOCK = 0x9026
    RESET_FOCUS_POINT = 0x9027
    UNLOCK_S1_LOCK = 0x9027
    # data-in is a list of DevicePropDescs, not a PTP DeviceInfo (vendor-fuji.md §9.2)
    FUJI_GET_DEVICE_INFO = 0x902B
    SET_SHUTTER_SPEED = 0x902C
    STEP_SHUTTER_SPEED = 0x902C
    SET_APERTURE = 0x902D
    STEP_F_NUMBER = 0x902D
    SET_EXPOSURE_COMPENSATION = 0x902E
    STEP_EXPOSURE_BIAS = 0x902E
    CANCEL_INITIATE_CAPTURE = 0x9030
    FM_SEND_OBJECT_INFO = 0x9040
    FM_SEND_OBJECT = 0x9041
    FM_SEND_PARTIAL_OBJECT = 0x9042
    # MTP object-property ops listed in the X-H1 DeviceInfo vector (vendor-fuji.md §5, §16)
    GET_OBJECT_PROPS_SUPPORTED = 0x9801
    GET_OBJECT_PROP_DESC = 0x9802
    GET_OBJECT_PROP_VALUE = 0x9803
    GET_OBJECT_PROP_LIST = 0x9805


class FujiEvent(IntEnum):
    """Fuji event codes on port 55741, vendor-fuji.md §7.2."""

    PREVIEW_AVAILABLE = 0xC001
    FUJI_OBJECT_ADDED = 0xC004
    UNKNOWN_C006 = 0xC006  # listed in the X-H1 DeviceInfo; meaning unknown


class FujiProperty(IntEnum):
    """Fuji device property codes, vendor-fuji.md §4.3 and §8; FUJI_ marks standard clashes."""

    FILM_SIMULATION = 0xD001
    FILM_SIMULATION_TUNE = 0xD002  # libgphoto2 ptp.h only
    D_RANGE_MODE = 0xD007  # libgphoto2 ptp.h only
    COLOR_MODE = 0xD008  # libgphoto2 ptp.h only
    COLOR_SPACE = 0xD00A  # libgphoto2 ptp.h only
    COLOR_TEMPERATURE = 0xD017  # libgphoto2 ptp.h only
    IMAGE_QUALITY = 0xD018
    QUALITY = 0xD018
    REC_MODE = 0xD019
    NOISE_REDUCTION = 0xD01C  # libgphoto2 ptp.h only
    FACE_DETECTION_MODE = 0xD020  # libgphoto2 ptp.h only
    GRAIN_EFFECT = 0xD023  # libgphoto2 ptp.h only
    COMMAND_DIAL_MODE = 0xD028
    FUJI_EXPOSURE_INDEX = 0xD02A  # ISO, bit-flag encoded (vendor-fuji.md §10.3)
    MOVIE_ISO = 0xD02B
    # X-T1 enumerates range 1..0x27; libgphoto2 names it LensZoomPos (unverified)
    LENS_ZOOM_POS = 0xD170
    LIVE_VIEW_IMAGE_SIZE = 0xD174
    # libgphoto2 calls it FocusMeteringMode; it holds the focus point (vendor-fuji.md §10.5)
    FOCUS_POINT = 0xD17C
    START_RAW_CONVERSION = 0xD183
    IOP_CODE = 0xD184
    RAW_CONV_PROFILE = 0xD185
    PRIORITY_MODE = 0xD207
    SHOOT_CONTROL = 0xD208  # USB: 0x0200 focus, 0x0304 shoot; name is ours
    FOCUS_LOCK = 0xD209
    AF_STATUS = 0xD209
    DEVICE_NAME = 0xD20B  # libgphoto2 ptp.h only
    FREE_SDRAM_IMAGES = 0xD20E
    MEDIA_STATUS = 0xD211  # libgphoto2 ptp.h only
    CURRENT_STATE = 0xD212
    EVENTS_LIST = 0xD212
    DEVICE_ERROR = 0xD21B
    SELECTED_IMGS_MODE = 0xD220
    OBJECT_COUNT = 0xD222  # libgphoto2 names 0xD222 SensitivityFineTune1 (USB)
    COMPRESS_SMALL = 0xD226
    ENABLE_CORRECT_FILE_SIZE = 0xD227
    AUTO_SAVE_DATABASE_STATUS = 0xD228
    CAPTURES_REMAINING = 0xD229
    MOVIE_REMAINING_TIME = 0xD22A
    SHUTTER_SPEED = 0xD240
    IMAGE_ASPECT_RATIO = 0xD241
    FUJI_BATTERY_LEVEL = 0xD242
    STORAGE_ID = 0xD244
    TOTAL_SHOT_COUNT = 0xD310  # libgphoto2 ptp.h only
    HIGH_LIGHT_TONE = 0xD320  # libgphoto2 ptp.h only
    SHADOW_TONE = 0xD321  # libgphoto2 ptp.h only
    # vendor-fuji.md §8 "PC mode (USB)"; libgphoto2 ptp.h names 0xD38C LensZoomPosCaps
    PC_MODE = 0xD38C
    GEOLOCATION = 0xD500
    CAMERA_STATE = 0xDF00
    CLIENT_STATE = 0xDF01
    INIT_SEQUENCE = 0xDF01
    IMAGE_GET_VERSION = 0xDF21
    GET_OBJECT_VERSION = 0xDF22
    AUTO_SAVE_VERSION = 0xDF23
    REMOTE_VERSION = 0xDF24
    APP_VERSION = 0xDF24
    REMOTE_GET_OBJECT_VERSION = 0xDF25
    REMOTE_PHOTO_VIEW_EX_VERSION = 0xDF28
    REMOTE_EX = 0xDF2A
    GEO_TAG_VERSION = 0xDF31


class FujiObjectFormat(IntEnum):
    """Fuji object formats."""

    RAF = 0xB103  # ptpip-standard.md §17: Fuji capture format (RAF)


#: For :mod:`ptpip.ptp.names`: this dialect's tables by code kind. Vendor codes live in the
#: vendor ranges (ptpip-standard.md §12), so they never shadow a standard code.
TABLES: dict[str, type[IntEnum]] = {
    "operation": FujiOperation,
    "event": FujiEvent,
    "property": FujiProperty,
    "object_format": FujiObjectFormat,
}
#: A Manufacturer containing this (case-insensitive) selects the dialect ...
MANUFACTURER = "fujifilm"
#: ... and so do these VendorExtensionIDs, when no Manufacturer matched.
EXTENSION_IDS: tuple[int, ...] = (VendorExtensionID.FUJI,)
