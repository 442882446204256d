"""The one exception tree of ptpip; every error carries the CLI exit code it maps to."""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

__all__ = [
    "AccessDenied",
    "CaptureError",
    "ConnectionClosed",
    "DeviceBusy",
    "ExitStatus",
    "InitFailError",
    "InvalidObjectHandle",
    "LocalProtocolError",
    "OperationNotSupported",
    "ProtocolError",
    "PtpError",
    "RemoteProtocolError",
    "ResponseError",
    "SessionNotOpen",
    "StorageError",
    "Timeout",
    "TransactionCancelled",
    "TransportError",
]


class ExitStatus(IntEnum):
    """Exit codes of the `ptpip` command; 1, 2, 102, 104 and 105 are the seed CLI's."""

    OK = 0
    ERROR = 1
    USAGE = 2
    COMMAND_FAILED = 3
    CONFIG = 102
    CLIENT = 104
    CONNECT = 105


class PtpError(Exception):
    """Base of every ptpip error; not raised directly."""

    exit_code: ClassVar[ExitStatus] = ExitStatus.ERROR


class ProtocolError(PtpError):
    """The bytes are wrong."""


class LocalProtocolError(ProtocolError):
    """We were asked to send something illegal."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something illegal: malformed, oversize or out of order."""

    exit_code = ExitStatus.COMMAND_FAILED


class CaptureError(PtpError):
    """The camera took the picture (it accepted the release) but announced no image: the
    connection is fine, the capture did not complete as the dialect promises."""

    exit_code = ExitStatus.COMMAND_FAILED


class StorageError(PtpError):
    """Received data could not be stored here: a full disk, an unwritable folder, a name
    that would escape the target or follow a symlink."""

    exit_code = ExitStatus.COMMAND_FAILED


class ResponseError(PtpError):
    """A PTP response code other than OK."""

    exit_code = ExitStatus.COMMAND_FAILED
    #: response code -> subclass, filled by ``__init_subclass__``
    _by_code: ClassVar[dict[int, type[ResponseError]]] = {}
    code_value: ClassVar[int | None] = None

    def __init__(
        self,
        code: int,
        params: tuple[int, ...] = (),
        transaction_id: int | None = None,
        operation: int | None = None,
        message: str | None = None,
    ) -> None:
        self.code = code
        self.params = params
        self.transaction_id = transaction_id
        self.operation = operation
        super().__init__(message or self._default_message())

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.code_value is not None:
            ResponseError._by_code[cls.code_value] = cls

    def _default_message(self) -> str:
        op = f"operation 0x{self.operation:04X} " if self.operation is not None else ""
        return f"{op}failed with response 0x{self.code:04X}"

    @classmethod
    def for_code(
        cls,
        code: int,
        params: tuple[int, ...] = (),
        transaction_id: int | None = None,
        operation: int | None = None,
        message: str | None = None,
    ) -> ResponseError:
        """The most specific ResponseError subclass for ``code``."""
        klass = cls._by_code.get(code, ResponseError)
        return klass(code, params, transaction_id, operation, message)


class SessionNotOpen(ResponseError):
    code_value = 0x2003


class OperationNotSupported(ResponseError):
    code_value = 0x2005


class InvalidObjectHandle(ResponseError):
    code_value = 0x2009


class AccessDenied(ResponseError):
    code_value = 0x200F


class DeviceBusy(ResponseError):
    code_value = 0x2019


class TransactionCancelled(ResponseError):
    code_value = 0x201F


class InitFailError(PtpError):
    """The PTP/IP Init handshake was refused; ``reason`` is the InitFail reason code."""

    exit_code = ExitStatus.CONNECT

    def __init__(self, reason: int, message: str | None = None) -> None:
        self.reason = reason
        super().__init__(message or f"the camera refused the connection (InitFail 0x{reason:X})")


class TransportError(PtpError):
    """Socket trouble."""

    exit_code = ExitStatus.CONNECT


class ConnectionClosed(TransportError):
    """The peer closed the connection."""


class Timeout(TransportError):
    """A wait ran out of time."""
