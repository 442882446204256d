"""The virtual camera's property store: descriptors, validation, wire values, DateTime."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ptpip.camera.props import (
    ALL_PROPERTIES,
    EXPOSURE_TIMES,
    PropertyError,
    PropertyStore,
    generic_properties,
)
from ptpip.ptp.codes import DataType, ResponseCode
from ptpip.ptp.datasets import DevicePropDesc, PropEnum, PropRange
from ptpip.ptp.values import Reader, Value, Writer

NOW = datetime(2024, 1, 1, 12, 0, 0)
GENERIC = generic_properties("TestCam 1", now=NOW)
REQUIRED = [
    0x5001, 0x5003, 0x5005, 0x5007, 0x5008, 0x500A, 0x500B, 0x500C, 0x500D, 0x500E,
    0x500F, 0x5010, 0x5011, 0x5012, 0x5013, 0x5017, 0x501C, 0x501E, 0x501F,
]  # fmt: skip


class Clock:
    """A settable stand-in for datetime.now."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def props() -> PropertyStore:
    return PropertyStore(generic_properties("TestCam 1", now=NOW), clock=Clock())


def code_of(call: object, *args: object) -> int:
    assert callable(call)
    with pytest.raises(PropertyError) as exc:
        call(*args)
    return exc.value.code


def encoded(datatype: int, value: Value) -> bytes:
    writer = Writer()
    writer.push_value(datatype, value)
    return writer.getvalue()


# -- the generic set -----------------------------------------------------------------------


def test_generic_properties_cover_the_standard_set() -> None:
    assert [d.code for d in GENERIC] == REQUIRED
    assert PropertyStore(GENERIC).codes() == tuple(REQUIRED)


@pytest.mark.parametrize("desc", GENERIC, ids=lambda d: f"{d.code:04X}")
def test_generic_properties_round_trip(desc: DevicePropDesc) -> None:
    data = desc.encode()
    assert DevicePropDesc.decode(data) == desc
    assert desc.default == desc.current
    if isinstance(desc.form, PropEnum):
        assert desc.current in desc.form.values
        assert len(set(desc.form.values)) == len(desc.form.values)


def test_generic_property_details() -> None:
    by_code = {d.code: d for d in GENERIC}
    battery = by_code[0x5001]
    assert (battery.datatype, battery.get_set, battery.current) == (DataType.UINT8, 0, 80)
    assert battery.form == PropRange(0, 100, 1)
    assert by_code[0x5003].form == PropEnum(("4000x3000", "3008x2000", "1920x1080", "640x480"))
    assert by_code[0x500F].current == 100
    iso = by_code[0x500F].form
    assert isinstance(iso, PropEnum)
    assert (iso.values[0], iso.values[-1], len(iso.values)) == (100, 12800, 22)
    ev = by_code[0x5010]
    assert ev.datatype == DataType.INT16
    assert isinstance(ev.form, PropEnum)
    assert ev.form.values[6:13] == (-1000, -667, -333, 0, 333, 667, 1000)
    assert (ev.form.values[0], ev.form.values[-1]) == (-3000, 3000)
    assert by_code[0x5011].current == "20240101T120000"
    assert by_code[0x5011].form is None
    assert by_code[0x5008].get_set == 0


def test_exposure_times_format_back_to_their_labels() -> None:
    values = [v for _, v in EXPOSURE_TIMES]
    assert values == sorted(set(values))
    assert EXPOSURE_TIMES[0] == ("1/4000", 2)
    assert EXPOSURE_TIMES[-1] == ("30", 300_000)
    nominal = {
        label: (1 / int(label[2:]) if label.startswith("1/") else float(label))
        for label, _ in EXPOSURE_TIMES
    }
    for label, value in EXPOSURE_TIMES:
        seconds = value / 10_000
        nearest = min(nominal, key=lambda n: abs(math.log(seconds / nominal[n])))
        assert nearest == label


# -- get, set, validation ------------------------------------------------------------------


def test_set_returns_whether_the_value_changed(props: PropertyStore) -> None:
    assert props.set(0x500F, 400) is True
    assert props.get(0x500F) == 400
    assert props.describe(0x500F).current == 400
    assert props.describe(0x500F).default == 100
    assert props.set(0x500F, 400) is False
    assert props.set(0x5003, "1920x1080") is True
    assert props.set(0x501E, "Jane Doe") is True
    assert props.value_bytes(0x501E) == encoded(DataType.STR, "Jane Doe")


@pytest.mark.parametrize(
    ("code", "value", "expected"),
    [
        (0x500F, 123, ResponseCode.INVALID_DEVICE_PROP_VALUE),  # not in the enum
        (0x500F, "100", ResponseCode.INVALID_DEVICE_PROP_VALUE),  # wrong type
        (0x500F, True, ResponseCode.INVALID_DEVICE_PROP_VALUE),  # bool is no UINT16
        (0x500F, 70000, ResponseCode.INVALID_DEVICE_PROP_VALUE),  # does not fit
        (0x5003, "1x1", ResponseCode.INVALID_DEVICE_PROP_VALUE),
        (0x5003, 4000, ResponseCode.INVALID_DEVICE_PROP_VALUE),
        (0x501E, "x" * 255, ResponseCode.INVALID_DEVICE_PROP_VALUE),  # > 254 UTF-16 units
        (0x501E, "a\x00b", ResponseCode.INVALID_DEVICE_PROP_VALUE),
        (0x5011, "yesterday", ResponseCode.INVALID_DEVICE_PROP_VALUE),
        (0x5001, 50, ResponseCode.ACCESS_DENIED),  # read-only
        (0x5008, 5000, ResponseCode.ACCESS_DENIED),
        (0x5099, 1, ResponseCode.DEVICE_PROP_NOT_SUPPORTED),
    ],
)
def test_set_errors(props: PropertyStore, code: int, value: Value, expected: int) -> None:
    before = props.get(code) if code in props else None
    assert code_of(props.set, code, value) == expected
    if code in props and code != 0x5011:
        assert props.get(code) == before


def test_range_and_step_validation() -> None:
    desc = DevicePropDesc(0xD001, DataType.INT16, 1, 0, 0, PropRange(-10, 10, 5))
    props = PropertyStore([desc])
    assert props.set(0xD001, -5)
    assert code_of(props.set, 0xD001, 3) == ResponseCode.INVALID_DEVICE_PROP_VALUE
    assert code_of(props.set, 0xD001, 15) == ResponseCode.INVALID_DEVICE_PROP_VALUE
    assert code_of(props.set, 0xD001, -15) == ResponseCode.INVALID_DEVICE_PROP_VALUE


def test_array_properties() -> None:
    desc = DevicePropDesc(0xD002, DataType.AUINT8, 1, (1, 2), (1, 2), None)
    props = PropertyStore([desc])
    assert props.set(0xD002, (3, 4, 5)) is True
    assert props.get(0xD002) == (3, 4, 5)
    assert props.value_bytes(0xD002) == b"\x03\x00\x00\x00\x03\x04\x05"
    assert code_of(props.set, 0xD002, (256,)) == ResponseCode.INVALID_DEVICE_PROP_VALUE
    assert code_of(props.set, 0xD002, 7) == ResponseCode.INVALID_DEVICE_PROP_VALUE


def test_the_camera_can_update_read_only_values(props: PropertyStore) -> None:
    assert props.update(0x5001, 42) is True
    assert props.describe(0x5001).current == 42
    assert code_of(props.update, 0x5001, 101) == ResponseCode.INVALID_DEVICE_PROP_VALUE


@given(value=st.integers(-(1 << 20), 1 << 20))
def test_set_accepts_exactly_the_enumerated_values(value: int) -> None:
    props = PropertyStore(GENERIC, clock=Clock())
    form = props.describe(0x5010).form
    assert isinstance(form, PropEnum)
    if value in form.values:
        props.set(0x5010, value)
        assert props.get(0x5010) == value
    else:
        assert code_of(props.set, 0x5010, value) == ResponseCode.INVALID_DEVICE_PROP_VALUE


# -- wire values ---------------------------------------------------------------------------


def test_value_bytes(props: PropertyStore) -> None:
    assert props.value_bytes(0x500F) == b"\x64\x00"
    assert props.value_bytes(0x5010) == b"\x00\x00"
    assert props.value_bytes(0x5001) == b"\x50"
    assert props.value_bytes(0x500D) == (80).to_bytes(4, "little")
    assert Reader(props.value_bytes(0x5003)).pull_str() == "4000x3000"
    assert code_of(props.value_bytes, 0x5099) == ResponseCode.DEVICE_PROP_NOT_SUPPORTED


def test_set_from_bytes_exact_and_fuji_padded(props: PropertyStore) -> None:
    # libgphoto2 sends the value exactly (gphoto2-interop.md §5.6) ...
    assert props.set_from_bytes(0x500F, b"\xc8\x00") is True
    assert props.get(0x500F) == 200
    # ... Fuji initiators pad it to a u32 plus 16 zero bytes (vendor-fuji.md §3)
    assert props.set_from_bytes(0x500F, b"\x90\x01" + bytes(18)) is True
    assert props.get(0x500F) == 400
    assert props.set_from_bytes(0x5010, (-667).to_bytes(2, "little", signed=True) + bytes(2))
    assert props.get(0x5010) == -667
    size = encoded(DataType.STR, "1920x1080")
    assert size.hex(" ").startswith("0a 31 00 39 00")
    assert props.set_from_bytes(0x5003, size + bytes(16)) is True
    assert props.get(0x5003) == "1920x1080"


@pytest.mark.parametrize(
    ("code", "data", "expected"),
    [
        (0x500F, b"\xc8", ResponseCode.INVALID_DEVICE_PROP_FORMAT),
        (0x500F, b"", ResponseCode.INVALID_DEVICE_PROP_FORMAT),
        (0x5003, b"\x0a\x31\x00", ResponseCode.INVALID_DEVICE_PROP_FORMAT),
        (0x500F, b"\x7b\x00", ResponseCode.INVALID_DEVICE_PROP_VALUE),
        (0x5001, b"\x10", ResponseCode.ACCESS_DENIED),
        (0x5099, b"\x00\x00", ResponseCode.DEVICE_PROP_NOT_SUPPORTED),
    ],
)
def test_set_from_bytes_errors(props: PropertyStore, code: int, data: bytes, expected: int) -> None:
    assert code_of(props.set_from_bytes, code, data) == expected


# -- reset ---------------------------------------------------------------------------------


def test_reset(props: PropertyStore) -> None:
    props.set(0x500F, 800)
    props.set(0x5005, 4)
    props.update(0x5001, 10)
    assert props.reset(0x500F) == (0x500F,)
    assert props.get(0x500F) == 100
    assert props.reset(0x500F) == ()
    assert code_of(props.reset, 0x5001) == ResponseCode.ACCESS_DENIED
    assert code_of(props.reset, 0x5099) == ResponseCode.DEVICE_PROP_NOT_SUPPORTED
    assert props.reset(ALL_PROPERTIES) == (0x5005,)
    assert props.get(0x5001) == 10  # read-only values are the camera's, not a setting


# -- DateTime ------------------------------------------------------------------------------


def test_datetime_reads_the_clock_until_set() -> None:
    clock = Clock()
    props = PropertyStore(GENERIC, clock=clock)
    assert props.get(0x5011) == "20240101T120000"
    clock.now += timedelta(seconds=75)
    assert props.get(0x5011) == "20240101T120115"
    assert props.describe(0x5011).current == "20240101T120115"
    assert props.value_bytes(0x5011) == encoded(DataType.STR, "20240101T120115")


def test_a_set_datetime_keeps_ticking_and_resets_to_the_clock() -> None:
    clock = Clock()
    props = PropertyStore(GENERIC, clock=clock)
    assert props.set(0x5011, "20300615T080000") is True
    assert props.get(0x5011) == "20300615T080000"
    clock.now += timedelta(seconds=10)
    assert props.get(0x5011) == "20300615T080010"
    assert props.set_from_bytes(0x5011, encoded(DataType.STR, "20300615T080010.5")) is False
    assert props.reset(0x5011) == (0x5011,)
    assert props.get(0x5011) == "20240101T120010"


# -- construction --------------------------------------------------------------------------


def test_construction_rejects_duplicates_and_unencodable_descriptors() -> None:
    with pytest.raises(ValueError, match="twice"):
        PropertyStore([GENERIC[0], GENERIC[0]])
    with pytest.raises(ValueError, match="0x5001"):
        PropertyStore([DevicePropDesc(0x5001, DataType.UINT8, 0, 300, 300, None)])
    assert len(PropertyStore([])) == 0
