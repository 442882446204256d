"""Leica FOTOS-era vendor codes (vendor-leica.md §5; libgphoto2 ptp.h)."""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "EXTENSION_IDS",
    "MANUFACTURER",
    "TABLES",
    "LeicaOperation",
    "LeicaProperty",
]


class LeicaOperation(IntEnum):
    """Leica operation codes, vendor-leica.md §5."""

    SET_CAMERA_SETTINGS = 0x9001
    GET_CAMERA_SETTINGS = 0x9002
    GET_LENS_PARAMETER = 0x9003
    LE_RELEASE_STAGES = 0x9004
    RELEASE_STAGE = 0x9004
    OPEN_LE_SESSION = 0x9005
    LE_OPEN_SESSION = 0x9005
    CLOSE_LE_SESSION = 0x9006
    LE_CLOSE_SESSION = 0x9006
    REQUEST_OBJECT_TRANSFER_READY = 0x9007
    GET_GEO_TRACKING_DATA = 0x9008
    OPEN_DEBUG_SESSION = 0x900A
    CLOSE_DEBUG_SESSION = 0x900B
    GET_DEBUG_BUFFER = 0x900C
    DEBUG_COMMAND_STRING = 0x900D
    GET_DEBUG_ROUTE = 0x900E
    SET_IPTC_DATA = 0x900F
    GET_IPTC_DATA = 0x9010
    LE_CONTROL_AUTO_FOCUS = 0x9016
    LE_CONTROL_BULB_EXPOSURE = 0x9019
    LE_CONTROL_CONTINUOUS_EXPOSURE = 0x901A
    UNKNOWN_901B = 0x901B  # release-related, unnamed in libgphoto2 and LeicaHacks
    LE_CONTROL_PHOTO_LIVE_VIEW = 0x901C
    LE_KEEP_SESSION_ACTIVE = 0x901D
    LE_MOVE_LENS = 0x901E
    GET_3D_AXIS_DATA = 0x9020
    LE_SET_ZOOM_MODE = 0x9021
    LE_SET_FOCUS_CROSS_POSITION = 0x9022
    LE_SET_DISPLAY_WINDOW_POSITION = 0x9024
    LE_GET_STREAM_DATA = 0x9025
    ENABLE_PAIRING = 0x902D  # FOTOS native code name; unverified (Q3 note)
    OPEN_LIVE_VIEW_SESSION = 0x9030
    CLOSE_LIVE_VIEW_SESSION = 0x9031
    LE_GET_LOOK_PROP_LIST = 0x9033  # "kPTPCommandVE_9033" in LeicaHacks; Q3 note
    LE_SET_LOOK_PROP_LIST = 0x9035  # Q3 note; unverified
    LE_SET_DATE_TIME = 0x9036
    GET_OBJECT_PROP_LIST_PAGINATED = 0x9037
    # production ops; a simulator answers OperationNotSupported
    OPEN_PRODUCTION_SESSION = 0x9100
    CLOSE_PRODUCTION_SESSION = 0x9101
    UPDATE_FIRMWARE = 0x9102
    OPEN_OSD_SESSION = 0x9103
    CLOSE_OSD_SESSION = 0x9104
    GET_OSD_DATA = 0x9105
    GET_FIRMWARE_STRUCT = 0x9106
    GET_DEBUG_MENU = 0x910B
    SET_DEBUG_MENU = 0x910C
    ODIN_MESSAGE = 0x910D
    GET_DEBUG_OBJECT_HANDLES = 0x910E
    GET_DEBUG_OBJECT = 0x910F
    DELETE_DEBUG_OBJECT = 0x9110
    GET_DEBUG_OBJECT_INFO = 0x9111
    WRITE_DEBUG_OBJECT = 0x9112
    CREATE_DEBUG_OBJECT = 0x9113
    CALIBRATE_3D_AXIS = 0x9114
    MAGNETIC_CALIBRATION = 0x9115
    GET_VIEW_FINDER_DATA = 0x9116


class LeicaProperty(IntEnum):
    """Leica device property codes, vendor-leica.md §5."""

    EXTERNAL_SHOOTING = 0xD018
    STATUS_D69C = 0xD69C  # read-only INT32, value 0x2000000F (Q3 note); meaning unknown
    STATUS_D69D = 0xD69D  # as 0xD69C
    # Leica Look properties carried by 0x9035 (Q3 note; unverified)
    LOOK_CUBE_LUT = 0xD860
    LOOK_ID = 0xD861
    LOOK_TYPE = 0xD864
    LOOK_BASE_STYLE = 0xD866
    LOOK_NAME = 0xDC44
    LOOK_ICON = 0xDC86


#: For :mod:`ptpip.ptp.names`: this dialect's tables by code kind. Vendor codes live in the
#: vendor ranges (ptpip-standard.md §12), so they never shadow a standard code.
TABLES: dict[str, type[IntEnum]] = {
    "operation": LeicaOperation,
    "property": LeicaProperty,
}
#: A Manufacturer containing this (case-insensitive) selects the dialect ...
MANUFACTURER = "leica"
#: ... and so do these VendorExtensionIDs, when no Manufacturer matched.
EXTENSION_IDS: tuple[int, ...] = ()
