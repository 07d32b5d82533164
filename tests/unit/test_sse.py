from __future__ import annotations

import pytest

from pytest_mcpperf.engine.sse import SseDecoder, SseEvent

STREAM = (
    b": keep-alive comment\r\n\r\n"
    b"event: message\r\nid: 7\r\n"
    b'data: {"jsonrpc":"2.0","method":"notifications/progress"}\r\n\r\n'
    b"data\r\n\r\n"  # empty data: skipped
    b"data: line one\ndata: line two\n\n"
    b"data:no-space\rid: 9\r\r"
    b'data: {"id":1,"result":{"text":"caf\xc3\xa9"}}\n\n'
)
EXPECTED = [
    SseEvent('{"jsonrpc":"2.0","method":"notifications/progress"}', "message", "7"),
    SseEvent("line one\nline two", "message", "7"),
    SseEvent("no-space", "message", "9"),
    SseEvent('{"id":1,"result":{"text":"café"}}', "message", "9"),
]


def test_whole_stream() -> None:
    assert SseDecoder().feed(STREAM) == EXPECTED


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_split_at_every_byte_boundary(cut: int) -> None:
    d = SseDecoder()
    events = d.feed(STREAM[:cut]) + d.feed(STREAM[cut:])
    assert events == EXPECTED


def test_one_byte_at_a_time() -> None:
    d = SseDecoder()
    events: list[SseEvent] = []
    for i in range(len(STREAM)):
        events += d.feed(STREAM[i : i + 1])
    assert events == EXPECTED


def test_unfinished_event_is_kept_until_blank_line() -> None:
    d = SseDecoder()
    assert d.feed(b"data: x\n") == []
    assert d.feed(b"\n") == [SseEvent("x")]


def test_an_event_that_never_ends_is_too_large_and_costs_no_quadratic_copy() -> None:
    from pytest_mcpperf.errors import ResponseTooLarge

    dec = SseDecoder(max_event_bytes=64 * 1024)
    dec.feed(b"id: 7\ndata: {")
    for _ in range(63):
        dec.feed(b"x" * 1024)  # one endless line, fed in pieces
    with pytest.raises(ResponseTooLarge) as info:
        dec.feed(b"x" * 1024)
    assert info.value.code == "sse_event"
    assert dec.last_event_id == "7"


def test_a_long_line_fed_in_pieces_decodes_whole() -> None:
    dec = SseDecoder()
    pieces = [b"data: ", b"a" * 10, b"b" * 10, b"\n", b"\n"]
    out = [e for p in pieces for e in dec.feed(p)]
    assert [e.data for e in out] == ["a" * 10 + "b" * 10]
