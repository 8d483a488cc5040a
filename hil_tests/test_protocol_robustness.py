"""No host input can crash the controller: every line gets a structured reply or is ignored."""

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hashboard.hostlink import StdinLink
from hostlib.sim.fastlane import FastBoard

_BOARD = FastBoard()
_BOARD.run_for(3000)


def replies(line: bytes):
    _BOARD.output.clear()
    _BOARD.app.protocol.handle(line)
    return [json.loads(x[4:]) for x in "".join(_BOARD.output).splitlines() if x.startswith("@hb ")]


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=150)
@given(st.binary(max_size=300))
@example(b'@hb {"":0,"op":"events","":{"":0}}')
def test_arbitrary_bytes_get_a_structured_error(data):
    out = replies(data)
    assert len(out) == 1
    if out[0]["ok"]:  # bytes that are a well-formed request after all (hypothesis draws on the code's
        # own literals, and found '@hb {"":0,"op":"events","":{"":0}}'): only such a line is taken
        req = json.loads(data[4:])
        assert data.startswith(b"@hb ") and isinstance(req, dict) and isinstance(req.get("args", {}), dict)
        assert req.get("v", 1) == 1 and req.get("op") in _BOARD.app.protocol.ops, data
    else:
        assert out[0]["error"]["code"] in ("bad_request", "unknown_op", "bad_args", "bad_version")


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                           max_leaves=8)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=150)
@given(st.dictionaries(st.sampled_from(["id", "op", "args", "v", "x"]), json_values, max_size=4))
def test_arbitrary_json_requests_never_crash(req):
    out = replies(b"@hb " + json.dumps(req).encode())
    assert len(out) == 1
    assert out[0]["ok"] in (True, False)
    if out[0]["ok"] is False:
        assert isinstance(out[0]["error"]["message"], str)


def test_known_ops_answer_and_versions_are_checked():
    assert replies(b'@hb {"id": 3, "op": "ping"}')[0]["data"]["pong"] is True
    bad = replies(b'@hb {"id": 4, "op": "ping", "v": 2}')[0]
    assert bad["id"] == 4 and bad["error"]["code"] == "bad_version"
    unk = replies(b'@hb {"id": 5, "op": "selfdestruct"}')[0]
    assert unk["error"]["code"] == "unknown_op" and "selfdestruct" in unk["error"]["message"]


class _Stream:
    def __init__(self, data):
        self.data = bytearray(data)

    def readinto(self, buf):
        if not self.data:
            return 0
        buf[0] = self.data.pop(0)
        return 1


class _Poller:
    def __init__(self, stream):
        self.stream = stream

    def poll(self, timeout):
        return [1] if self.stream.data else []


def _reader(data):
    """A StdinLink over bytes in memory (its own __init__ wants a real stream)."""
    link = StdinLink.__new__(StdinLink)
    stream = _Stream(data)
    link.stream = stream
    link.poller = _Poller(stream)
    link.buf = bytearray(512)
    link.one = bytearray(1)
    link.n = 0
    link.overflow = False
    link.guard = None
    link.refused = False
    return link


def test_line_reader_limits_length_and_skips_control_bytes():
    link = _reader(b"\x02\x01@hb {}\n" + b"x" * 600 + b"\nok\n\x03")
    assert link.poll() == b"@hb {}"
    assert link.poll() == b"!overflow"
    assert link.poll() == b"ok"
    import pytest

    with pytest.raises(KeyboardInterrupt):  # Ctrl-C in the stream stops the controller
        link.poll()
    assert link.poll() is None


def test_a_locked_boards_line_reader_refuses_ctrl_c_and_ctrl_a():
    """docs/security.md: on a locked board Ctrl-C (and the raw REPL's Ctrl-A) are refused, said
    once, and the next request still reads; unlocked, Ctrl-C stops the controller."""

    class Guard:
        locked = True

    link = _reader(b"\x03\r\x01@hb {}\n\x03")
    link.guard = Guard()
    assert link.poll() == b"@hb {}" and link.refused
    link.refused = False
    Guard.locked = False
    import pytest

    with pytest.raises(KeyboardInterrupt):
        link.poll()
