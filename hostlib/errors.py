"""Typed errors of the host library. Every one carries a one-line, user-facing message."""


class HbError(Exception):
    """Base of every error hbctl reports as one line."""


class TransportError(HbError):
    """The port cannot be opened or the link broke."""


class BoardTimeout(HbError):
    """The board did not answer within the timeout."""


class LinkGarbage(BoardTimeout):
    """The link carried bytes that are not the host protocol."""


class RequestError(HbError):
    """The host refused to send a request the board could not parse (NaN, too long)."""


class RemoteError(HbError):
    """The board answered with a structured error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"board refused: {message} ({code})")
        self.code = code
        self.message = message
