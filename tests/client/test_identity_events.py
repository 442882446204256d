"""The initiator's persisted identity, events (backlog, filters, bounds, end) and probes."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from pathlib import Path

import pytest

from ptpip.camera.server import ServerSession, VirtualCamera
from ptpip.client.camera import Camera, connect, open_camera
from ptpip.client.events import CameraEvent, EventHub
from ptpip.client.identity import Identity, IdentityStore, parse_guid
from ptpip.ip.packets import (
    FujiInitCommandRequest,
    InitCommandRequest,
    ProbeRequest,
    ProbeResponse,
)
from ptpip.ip.responder import ProbeAnswered, ResponderEvent
from ptpip.ptp.codes import DevicePropertyCode as Prop
from ptpip.ptp.codes import EventCode
from tests.client.conftest import WAIT, bounded, tap, wait_until

KEY = "generic@127.0.0.1"
UNSOLICITED = 0xFFFF_FFFF


def seen_initiators(vcam: VirtualCamera) -> list[InitCommandRequest | FujiInitCommandRequest]:
    """Record every Init Command Request the camera receives."""
    seen: list[InitCommandRequest | FujiInitCommandRequest] = []
    personality = vcam.personality

    def check(request: InitCommandRequest | FujiInitCommandRequest) -> int | None:
        seen.append(request)
        return None

    personality.check_initiator = check  # type: ignore[method-assign]
    return seen


def live_session(vcam: VirtualCamera) -> ServerSession:
    session = vcam.session
    assert session is not None
    return session


# -- identity ------------------------------------------------------------------------------


async def test_identity_is_persisted_and_reused(
    vcam: VirtualCamera, id_store: IdentityStore, tmp_path: Path
) -> None:
    seen = seen_initiators(vcam)
    async with connect("127.0.0.1", vcam.port, identity_store=id_store, timeout=WAIT) as cam:
        first = cam.connection.identity
    stored = json.loads((tmp_path / "id.json").read_text())
    assert stored == {KEY: {"guid": str(uuid.UUID(bytes=first.guid)), "name": first.name}}
    assert first.name.startswith("ptpip-")
    assert id_store.get(KEY) == first

    async with connect("127.0.0.1", vcam.port, identity_store=id_store, timeout=WAIT) as cam:
        assert cam.connection.identity == first
    # The camera saw the same GUID and name both times, exactly as stored.
    assert [(r.guid, r.friendly_name) for r in seen] == [(first.guid, first.name)] * 2
    assert all(isinstance(r, InitCommandRequest) for r in seen)


async def test_overrides_are_sent_but_not_stored(
    vcam: VirtualCamera, id_store: IdentityStore
) -> None:
    seen = seen_initiators(vcam)
    stored = Identity(bytes(range(16, 32)), "ptpip-stored")
    id_store.put(KEY, stored)
    override = bytes.fromhex("4dc479e1c10e46279ee11b2abce2da29")
    async with connect(
        "127.0.0.1", vcam.port, identity_store=id_store, guid=override, name="iPhone"
    ):
        pass
    async with connect("127.0.0.1", vcam.port, identity_store=id_store, name="only-name"):
        pass
    async with connect("127.0.0.1", vcam.port, identity_store=id_store):
        pass
    assert [(r.guid, r.friendly_name) for r in seen] == [
        (override, "iPhone"),
        (stored.guid, "only-name"),
        (stored.guid, stored.name),
    ]
    assert id_store.get(KEY) == stored


async def test_default_identity_file_lives_under_xdg_config_home(
    vcam: VirtualCamera, tmp_path: Path
) -> None:
    seen = seen_initiators(vcam)
    camera = await open_camera("127.0.0.1", vcam.port, timeout=WAIT)
    await camera.close()
    path = tmp_path / "xdg" / "ptpip" / "identities.json"
    entry = json.loads(path.read_text())[KEY]
    assert parse_guid(entry["guid"]) == seen[0].guid
    assert not (tmp_path / "home" / ".config").exists()


def test_identity_store_survives_a_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "ids.json"
    path.write_text("{not json")
    store = IdentityStore(path)
    assert store.get(KEY) is None
    made = store.identity_for(KEY)
    assert IdentityStore(path).get(KEY) == made
    assert store.identity_for(KEY) == made  # and is stable from then on


@pytest.mark.parametrize(
    "text",
    [
        "4dc479e1-c10e-4627-9ee1-1b2abce2da29",
        "4dc479e1c10e46279ee11b2abce2da29",
        "4d:c4:79:e1:c1:0e:46:27:9e:e1:1b:2a:bc:e2:da:29",
        "0x4DC479E1C10E46279EE11B2ABCE2DA29",
    ],
)
def test_parse_guid_forms(text: str) -> None:
    assert parse_guid(text) == bytes.fromhex("4dc479e1c10e46279ee11b2abce2da29")


@pytest.mark.parametrize("text", ["", "xyz", "00112233"])
def test_parse_guid_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="invalid GUID"):
        parse_guid(text)


# -- events --------------------------------------------------------------------------------


async def published(camera: Camera, count: int) -> list[CameraEvent]:
    """Wait (bounded) until the client has taken in ``count`` more events; returns them."""
    got: list[CameraEvent] = []
    camera.connection.events_hub.listeners.append(got.append)
    try:
        await wait_until(lambda: len(got) >= count)
    finally:
        camera.connection.events_hub.listeners.remove(got.append)
    return got


async def test_events_wait_in_a_backlog_for_the_next_subscriber(
    vcam: VirtualCamera, camera: Camera
) -> None:
    session = live_session(vcam)
    waiting = asyncio.ensure_future(published(camera, 3))
    await asyncio.sleep(0)
    session.send_event(EventCode.OBJECT_ADDED, UNSOLICITED, (0x10,))
    session.send_event(EventCode.DEVICE_PROP_CHANGED, UNSOLICITED, (Prop.EXPOSURE_INDEX,))
    session.send_event(EventCode.CAPTURE_COMPLETE, 7)
    await bounded(waiting)

    with camera.events() as events:
        got = [await events.get(WAIT) for _ in range(3)]
        assert [(e.code, e.params, e.transaction_id) for e in got] == [
            (EventCode.OBJECT_ADDED, (0x10,), None),
            (EventCode.DEVICE_PROP_CHANGED, (Prop.EXPOSURE_INDEX,), None),
            (EventCode.CAPTURE_COMPLETE, (), 7),
        ]
        assert got[1].name == "DevicePropChanged"
        # Events after subscribing arrive live.
        session.send_event(EventCode.STORE_FULL, UNSOLICITED)
        assert (await events.get(WAIT)).code == EventCode.STORE_FULL
    # The backlog was handed over: a new subscriber starts empty.
    with camera.events() as events, pytest.raises(TimeoutError):
        await events.get(0.05)


async def test_filtering_by_code_leaves_the_rest_in_the_backlog(
    vcam: VirtualCamera, camera: Camera
) -> None:
    session = live_session(vcam)
    waiting = asyncio.ensure_future(published(camera, 3))
    await asyncio.sleep(0)
    session.send_event(EventCode.OBJECT_ADDED, UNSOLICITED, (1,))
    session.send_event(EventCode.DEVICE_PROP_CHANGED, UNSOLICITED, (0x5005,))
    session.send_event(EventCode.OBJECT_ADDED, UNSOLICITED, (2,))
    await bounded(waiting)
    with camera.events(EventCode.OBJECT_ADDED) as added:
        assert [(await added.get(WAIT)).params for _ in range(2)] == [(1,), (2,)]
        # A property change made by the client comes out only to a matching subscriber.
        with camera.events(EventCode.DEVICE_PROP_CHANGED) as changes:
            first = await changes.get(WAIT)  # the backlog's
            assert first.params == (0x5005,)
            await camera.set_property(Prop.EXPOSURE_INDEX, 800)
            assert (await changes.get(WAIT)).params == (Prop.EXPOSURE_INDEX,)
        with pytest.raises(TimeoutError):
            await added.get(0.05)


async def test_wait_for_event(vcam: VirtualCamera, camera: Camera) -> None:
    task = asyncio.ensure_future(camera.wait_for_event(EventCode.DEVICE_PROP_CHANGED, timeout=WAIT))
    await asyncio.sleep(0)
    await camera.set_property(Prop.WHITE_BALANCE, 4)
    event = await bounded(task)
    assert event.params == (Prop.WHITE_BALANCE,)
    with pytest.raises(TimeoutError):
        await camera.wait_for_event(EventCode.STORE_FULL, timeout=0.05)


def test_bounded_subscription_drops_the_oldest_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def run() -> None:
        hub = EventHub(backlog=10, queue_size=3)
        with hub.subscribe() as sub:
            with caplog.at_level(logging.WARNING, logger="ptpip.client"):
                for n in range(5):
                    hub.publish(CameraEvent(EventCode.OBJECT_ADDED, (n,)))
            assert sub.dropped == 2
            assert [(await sub.get(0)).params for _ in range(3)] == [(2,), (3,), (4,)]
        assert "2 events dropped" not in caplog.text  # warned at the first, not every, drop
        assert "event queue full: 1 events dropped" in caplog.text

    asyncio.run(run())


def test_bounded_backlog_drops_the_oldest_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def run() -> None:
        hub = EventHub(backlog=2)
        with caplog.at_level(logging.WARNING, logger="ptpip.client"):
            for n in range(3):
                hub.publish(CameraEvent(EventCode.OBJECT_ADDED, (n,)))
        assert "event backlog full" in caplog.text
        with hub.subscribe() as sub:
            assert [(await sub.get(0)).params for _ in range(2)] == [(1,), (2,)]

    asyncio.run(run())


async def test_slow_listener_end_to_end(vcam: VirtualCamera, camera: Camera) -> None:
    camera.connection.events_hub = EventHub(backlog=8, queue_size=4)
    session = live_session(vcam)
    with camera.events() as events:
        waiting = asyncio.ensure_future(published(camera, 10))
        await asyncio.sleep(0)
        for n in range(10):
            session.send_event(EventCode.OBJECT_ADDED, UNSOLICITED, (n,))
        await bounded(waiting)
        assert events.dropped == 6
        assert [(await events.get(WAIT)).params[0] for _ in range(4)] == [6, 7, 8, 9]


async def test_events_iteration_ends_when_the_camera_disconnects(
    vcam: VirtualCamera, camera: Camera
) -> None:
    session = live_session(vcam)
    received: list[int] = []

    async def listen() -> None:
        async for event in camera.events():
            received.append(event.params[0])
            if event.params[0] == 2:
                await vcam.stop()

    task = asyncio.ensure_future(listen())
    await asyncio.sleep(0)
    for n in (1, 2):
        session.send_event(EventCode.OBJECT_ADDED, UNSOLICITED, (n,))
    await bounded(task)  # the loop ended by itself
    assert received == [1, 2]
    # A subscriber arriving later ends at once too.
    with camera.events() as late, pytest.raises(StopAsyncIteration):
        await late.get(WAIT)


# -- probes --------------------------------------------------------------------------------


async def test_client_answers_a_probe_request_from_the_camera(
    vcam: VirtualCamera, camera: Camera
) -> None:
    session = live_session(vcam)
    camera_side = session.event_conn
    assert camera_side is not None
    answers: list[ResponderEvent] = []
    receive = camera_side.responder.receive_data

    def recording(data: bytes | bytearray | memoryview) -> list[ResponderEvent]:
        events = receive(data)
        answers.extend(events)
        return events

    camera_side.responder.receive_data = recording  # type: ignore[method-assign]
    wire = tap(camera.connection._evt)
    camera_side.write(camera_side.responder.probe())
    await wait_until(lambda: ProbeAnswered() in answers)
    assert wire.received == [ProbeRequest()]
    assert wire.sent == [ProbeResponse()]
    assert bytes(wire.sent_bytes) == bytes.fromhex("08000000 0e000000")


async def test_keepalive_probes_when_idle_and_the_camera_answers(
    vcam: VirtualCamera, id_store: IdentityStore
) -> None:
    async with connect(
        "127.0.0.1", vcam.port, identity_store=id_store, timeout=WAIT, probe_interval=0.05
    ) as cam:
        wire = tap(cam.connection._evt)
        await wait_until(lambda: ProbeResponse() in wire.received)
        assert ProbeRequest() in wire.sent
        assert bytes(wire.sent_bytes[:8]) == bytes.fromhex("08000000 0d000000")
        assert cam.connection.is_open
        assert await cam.storage_ids() == (0x0001_0001,)


async def test_no_keepalive_when_disabled(vcam: VirtualCamera, id_store: IdentityStore) -> None:
    async with connect(
        "127.0.0.1", vcam.port, identity_store=id_store, timeout=WAIT, probe_interval=None
    ) as cam:
        wire = tap(cam.connection._evt)
        assert cam.connection._tasks == []
        await asyncio.sleep(0.1)
        assert wire.sent == []
