"""ISO 15740 (PTP 1.1) and CIPA DC-X005 (PTP/IP) code tables.

Unknown codes are not errors: decoders keep them as plain ints. Vendor tables live in
the dialects' ``codes`` (:mod:`ptpip.vendors`); vendor-aware names come from :mod:`ptpip.ptp.names`.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

__all__ = [
    "ALL_OBJECTS",
    "ARRAY_MASK",
    "ROOT_PARENT",
    "STORAGE_ALL",
    "UNKNOWN_DATA_LENGTH",
    "UNSOLICITED_TID",
    "AccessCapability",
    "AssociationType",
    "DataPhase",
    "DataType",
    "DevicePropertyCode",
    "EventCode",
    "FilesystemType",
    "FormFlag",
    "InitFailReason",
    "ObjectFormatCode",
    "OperationCode",
    "PacketType",
    "ProtectionStatus",
    "ResponseCode",
    "StorageType",
    "Vendor",
    "VendorExtensionID",
]

#: Data type bit marking an array (``u32 count`` + elements), ISO 15740 §5.3.
ARRAY_MASK = 0x4000
#: StartData TotalDataLength meaning "unknown", CIPA DC-X005 §2.3.9.
UNKNOWN_DATA_LENGTH = 0xFFFF_FFFF_FFFF_FFFF
#: Transaction id of unsolicited events (seed 000: Leica DevicePropChanged).
UNSOLICITED_TID = 0xFFFF_FFFF
#: StorageID / ObjectHandle wildcards of GetObjectHandles and DeleteObject.
STORAGE_ALL = 0xFFFF_FFFF
ALL_OBJECTS = 0xFFFF_FFFF
ROOT_PARENT = 0xFFFF_FFFF


class Vendor(StrEnum):
    """Camera dialects ptpip knows; selects vendor tables, set-up and framing."""

    GENERIC = "generic"
    FUJI = "fuji"
    CANON = "canon"
    LEICA = "leica"
    NIKON = "nikon"
    SONY = "sony"


class PacketType(IntEnum):
    """PTP/IP packet types, CIPA DC-X005 §2.3."""

    INIT_COMMAND_REQUEST = 0x01
    INIT_COMMAND_ACK = 0x02
    INIT_EVENT_REQUEST = 0x03
    INIT_EVENT_ACK = 0x04
    INIT_FAIL = 0x05
    OPERATION_REQUEST = 0x06
    OPERATION_RESPONSE = 0x07
    EVENT = 0x08
    START_DATA = 0x09
    DATA = 0x0A
    CANCEL = 0x0B
    END_DATA = 0x0C
    PROBE_REQUEST = 0x0D
    PROBE_RESPONSE = 0x0E


class InitFailReason(IntEnum):
    """InitFail reasons: CIPA values, plus Fuji's response codes reused as reasons."""

    REJECTED_INITIATOR = 0x0000_0001
    BUSY = 0x0000_0002
    UNSPECIFIED = 0x0000_0003
    INVALID_GUID = 0x0000_0004  # third-party headers only; unverified
    FUJI_DEVICE_BUSY = 0x0000_2019
    FUJI_INVALID_PARAMETER = 0x0000_201D


class DataPhase(IntEnum):
    """Operation Request DataPhaseInfo, CIPA DC-X005 §2.3.6."""

    UNKNOWN_ZERO = 0  # third-party code uses 0 for "unknown"
    NO_DATA_OR_IN = 1
    DATA_OUT = 2
    UNKNOWN = 3


class OperationCode(IntEnum):
    """ISO 15740 operation codes (PTP 1.0 and 1.1)."""

    UNDEFINED = 0x1000
    GET_DEVICE_INFO = 0x1001
    OPEN_SESSION = 0x1002
    CLOSE_SESSION = 0x1003
    GET_STORAGE_IDS = 0x1004
    GET_STORAGE_INFO = 0x1005
    GET_NUM_OBJECTS = 0x1006
    GET_OBJECT_HANDLES = 0x1007
    GET_OBJECT_INFO = 0x1008
    GET_OBJECT = 0x1009
    GET_THUMB = 0x100A
    DELETE_OBJECT = 0x100B
    SEND_OBJECT_INFO = 0x100C
    SEND_OBJECT = 0x100D
    INITIATE_CAPTURE = 0x100E
    FORMAT_STORE = 0x100F
    RESET_DEVICE = 0x1010
    SELF_TEST = 0x1011
    SET_OBJECT_PROTECTION = 0x1012
    POWER_DOWN = 0x1013
    GET_DEVICE_PROP_DESC = 0x1014
    GET_DEVICE_PROP_VALUE = 0x1015
    SET_DEVICE_PROP_VALUE = 0x1016
    RESET_DEVICE_PROP_VALUE = 0x1017
    TERMINATE_OPEN_CAPTURE = 0x1018
    MOVE_OBJECT = 0x1019
    COPY_OBJECT = 0x101A
    GET_PARTIAL_OBJECT = 0x101B
    INITIATE_OPEN_CAPTURE = 0x101C
    START_ENUM_HANDLES = 0x101D
    ENUM_HANDLES = 0x101E
    STOP_ENUM_HANDLES = 0x101F
    GET_VENDOR_EXTENSION_MAPS = 0x1020
    GET_VENDOR_DEVICE_INFO = 0x1021
    GET_RESIZED_IMAGE_OBJECT = 0x1022
    GET_FILESYSTEM_MANIFEST = 0x1023
    GET_STREAM_INFO = 0x1024
    GET_STREAM = 0x1025


class ResponseCode(IntEnum):
    """ISO 15740 response codes."""

    UNDEFINED = 0x2000
    OK = 0x2001
    GENERAL_ERROR = 0x2002
    SESSION_NOT_OPEN = 0x2003
    INVALID_TRANSACTION_ID = 0x2004
    OPERATION_NOT_SUPPORTED = 0x2005
    PARAMETER_NOT_SUPPORTED = 0x2006
    INCOMPLETE_TRANSFER = 0x2007
    INVALID_STORAGE_ID = 0x2008
    INVALID_OBJECT_HANDLE = 0x2009
    DEVICE_PROP_NOT_SUPPORTED = 0x200A
    INVALID_OBJECT_FORMAT_CODE = 0x200B
    STORE_FULL = 0x200C
    OBJECT_WRITE_PROTECTED = 0x200D
    STORE_READ_ONLY = 0x200E
    ACCESS_DENIED = 0x200F
    NO_THUMBNAIL_PRESENT = 0x2010
    SELF_TEST_FAILED = 0x2011
    PARTIAL_DELETION = 0x2012
    STORE_NOT_AVAILABLE = 0x2013
    SPECIFICATION_BY_FORMAT_UNSUPPORTED = 0x2014
    NO_VALID_OBJECT_INFO = 0x2015
    INVALID_CODE_FORMAT = 0x2016
    UNKNOWN_VENDOR_CODE = 0x2017
    CAPTURE_ALREADY_TERMINATED = 0x2018
    DEVICE_BUSY = 0x2019
    INVALID_PARENT_OBJECT = 0x201A
    INVALID_DEVICE_PROP_FORMAT = 0x201B
    INVALID_DEVICE_PROP_VALUE = 0x201C
    INVALID_PARAMETER = 0x201D
    SESSION_ALREADY_OPEN = 0x201E
    TRANSACTION_CANCELLED = 0x201F
    SPECIFICATION_OF_DESTINATION_UNSUPPORTED = 0x2020
    INVALID_ENUM_HANDLE = 0x2021
    NO_STREAM_ENABLED = 0x2022
    INVALID_DATA_SET = 0x2023


class EventCode(IntEnum):
    """ISO 15740 event codes."""

    UNDEFINED = 0x4000
    CANCEL_TRANSACTION = 0x4001
    OBJECT_ADDED = 0x4002
    OBJECT_REMOVED = 0x4003
    STORE_ADDED = 0x4004
    STORE_REMOVED = 0x4005
    DEVICE_PROP_CHANGED = 0x4006
    OBJECT_INFO_CHANGED = 0x4007
    DEVICE_INFO_CHANGED = 0x4008
    REQUEST_OBJECT_TRANSFER = 0x4009
    STORE_FULL = 0x400A
    DEVICE_RESET = 0x400B
    STORAGE_INFO_CHANGED = 0x400C
    CAPTURE_COMPLETE = 0x400D
    UNREPORTED_STATUS = 0x400E


class DevicePropertyCode(IntEnum):
    """ISO 15740 device property codes."""

    UNDEFINED = 0x5000
    BATTERY_LEVEL = 0x5001
    FUNCTIONAL_MODE = 0x5002
    IMAGE_SIZE = 0x5003
    COMPRESSION_SETTING = 0x5004
    WHITE_BALANCE = 0x5005
    RGB_GAIN = 0x5006
    F_NUMBER = 0x5007
    FOCAL_LENGTH = 0x5008
    FOCUS_DISTANCE = 0x5009
    FOCUS_MODE = 0x500A
    EXPOSURE_METERING_MODE = 0x500B
    FLASH_MODE = 0x500C
    EXPOSURE_TIME = 0x500D
    EXPOSURE_PROGRAM_MODE = 0x500E
    EXPOSURE_INDEX = 0x500F
    EXPOSURE_BIAS_COMPENSATION = 0x5010
    DATE_TIME = 0x5011
    CAPTURE_DELAY = 0x5012
    STILL_CAPTURE_MODE = 0x5013
    CONTRAST = 0x5014
    SHARPNESS = 0x5015
    DIGITAL_ZOOM = 0x5016
    EFFECT_MODE = 0x5017
    BURST_NUMBER = 0x5018
    BURST_INTERVAL = 0x5019
    TIMELAPSE_NUMBER = 0x501A
    TIMELAPSE_INTERVAL = 0x501B
    FOCUS_METERING_MODE = 0x501C
    UPLOAD_URL = 0x501D
    ARTIST = 0x501E
    COPYRIGHT_INFO = 0x501F
    SUPPORTED_STREAMS = 0x5020
    ENABLED_STREAMS = 0x5021
    VIDEO_FORMAT = 0x5022
    VIDEO_RESOLUTION = 0x5023
    VIDEO_QUALITY = 0x5024
    VIDEO_FRAME_RATE = 0x5025
    VIDEO_CONTRAST = 0x5026
    VIDEO_BRIGHTNESS = 0x5027
    AUDIO_FORMAT = 0x5028
    AUDIO_BITRATE = 0x5029
    AUDIO_SAMPLING_RATE = 0x502A
    AUDIO_BIT_PER_SAMPLE = 0x502B
    AUDIO_VOLUME = 0x502C


class DataType(IntEnum):
    """PTP data type codes, ISO 15740 §5.3; ``code & ARRAY_MASK`` marks an array."""

    UNDEF = 0x0000
    INT8 = 0x0001
    UINT8 = 0x0002
    INT16 = 0x0003
    UINT16 = 0x0004
    INT32 = 0x0005
    UINT32 = 0x0006
    INT64 = 0x0007
    UINT64 = 0x0008
    INT128 = 0x0009
    UINT128 = 0x000A
    AINT8 = 0x4001
    AUINT8 = 0x4002
    AINT16 = 0x4003
    AUINT16 = 0x4004
    AINT32 = 0x4005
    AUINT32 = 0x4006
    AINT64 = 0x4007
    AUINT64 = 0x4008
    AINT128 = 0x4009
    AUINT128 = 0x400A
    STR = 0xFFFF

    @property
    def is_array(self) -> bool:
        return self is not DataType.STR and bool(self & ARRAY_MASK)

    @property
    def element(self) -> DataType:
        """The element type of an array type (itself for scalars)."""
        return DataType(self & ~ARRAY_MASK) if self.is_array else self


class FormFlag(IntEnum):
    """DevicePropDesc FormFlag."""

    NONE = 0
    RANGE = 1
    ENUM = 2


class ObjectFormatCode(IntEnum):
    """ISO 15740 object formats; bit 0x0800 marks an image format."""

    UNDEFINED = 0x3000
    ASSOCIATION = 0x3001
    SCRIPT = 0x3002
    EXECUTABLE = 0x3003
    TEXT = 0x3004
    HTML = 0x3005
    DPOF = 0x3006
    AIFF = 0x3007
    WAV = 0x3008
    MP3 = 0x3009
    AVI = 0x300A
    MPEG = 0x300B
    ASF = 0x300C
    QT = 0x300D
    UNKNOWN_IMAGE = 0x3800
    EXIF_JPEG = 0x3801
    TIFF_EP = 0x3802
    FLASHPIX = 0x3803
    BMP = 0x3804
    CIFF = 0x3805
    GIF = 0x3807
    JFIF = 0x3808
    PCD = 0x3809
    PICT = 0x380A
    PNG = 0x380B
    TIFF = 0x380D
    TIFF_IT = 0x380E
    JP2 = 0x380F
    JPX = 0x3810
    DNG = 0x3811

    @staticmethod
    def is_image(code: int) -> bool:
        return bool(code & 0x0800)


class StorageType(IntEnum):
    UNDEFINED = 0
    FIXED_ROM = 1
    REMOVABLE_ROM = 2
    FIXED_RAM = 3
    REMOVABLE_RAM = 4


class FilesystemType(IntEnum):
    UNDEFINED = 0
    GENERIC_FLAT = 1
    GENERIC_HIERARCHICAL = 2
    DCF = 3


class AccessCapability(IntEnum):
    READ_WRITE = 0
    READ_ONLY_WITHOUT_DELETION = 1
    READ_ONLY_WITH_DELETION = 2


class ProtectionStatus(IntEnum):
    NO_PROTECTION = 0
    READ_ONLY = 1


class AssociationType(IntEnum):
    UNDEFINED = 0
    GENERIC_FOLDER = 1
    ALBUM = 2
    TIME_SEQUENCE = 3
    HORIZONTAL_PANORAMIC = 4
    VERTICAL_PANORAMIC = 5
    PANORAMIC_2D = 6
    ANCILLARY_DATA = 7


class VendorExtensionID(IntEnum):
    """DeviceInfo.VendorExtensionID values."""

    NONE = 0x0000_0000
    KODAK = 0x0000_0001
    EPSON = 0x0000_0002
    AGILENT = 0x0000_0003
    POLAROID = 0x0000_0004
    AGFA = 0x0000_0005
    MICROSOFT = 0x0000_0006
    EQUINOX = 0x0000_0007
    VIEWQUEST = 0x0000_0008
    STMICROELECTRONICS = 0x0000_0009
    NIKON = 0x0000_000A
    CANON = 0x0000_000B
    FOTONATION = 0x0000_000C
    PENTAX = 0x0000_000D
    FUJI = 0x0000_000E
    SONY = 0x0000_0011
    NDD = 0x0000_0012
    SAMSUNG = 0x0000_001A
    PARROT = 0x0000_001B
    PANASONIC = 0x0000_001C
    MTP = 0xFFFF_FFFF
