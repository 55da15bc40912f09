"""Abuse limits on a real server on loopback: what one anonymous client can take from the others.

Each test reproduces one finding of a stress test (issue 10): a resume from id 1 replaying the
whole log, one client holding every connection, headers of 100 MB, ``X-Forwarded-For`` giving a
fresh rate-limit bucket per spoofed value.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from dallas_calls.feed.source import ReplaySource
from tests.api.conftest import SseClient, start_api, wait_for
from tests.conftest import LiveServer


async def test_a_resume_far_behind_gets_a_reset_instead_of_the_whole_log(
    make_server: Any, replay: ReplaySource
) -> None:
    server = make_server(sse_max_backlog=10)
    for _ in range(3):
        server.poll(replay)
    last = server.store.last_event_id()
    assert last > 20
    async with httpx.AsyncClient() as http:
        far = SseClient(server.url + "/get-events/?last_event_id=1")
        await far.collect_until(http, 10**9, stop_on=("reset",))
        assert far.ids == [], "nothing of the log is replayed"
        assert far.events[-1].event == "reset" and far.events[-1].data["last_event_id"] == last
        assert "behind" in far.events[-1].data["reason"]
        near = SseClient(server.url + "/get-events/", headers={"Last-Event-ID": str(last - 10)})
        await near.collect_until(http, last)
        assert near.ids == list(range(last - 9, last + 1)), "a client at most 10 behind gets its events"


async def _open_stream(http: httpx.AsyncClient, url: str) -> tuple[httpx.Response, Any]:
    """A stream held open (the caller closes it): its response once the head has arrived."""
    context = http.stream("GET", url, timeout=10)
    response = await context.__aenter__()
    return response, context


async def _until_admitted(http: httpx.AsyncClient, url: str) -> None:
    """Wait until the cap admits one more stream (probed with a bad id: a 400 once past the cap)."""
    deadline = time.monotonic() + 10
    while (await http.get(url + "/get-events/?last_event_id=abc")).status_code != 400:
        assert time.monotonic() < deadline, "a closed stream's slot was never given back"
        await asyncio.sleep(0.05)


async def test_event_streams_per_client_ip_are_capped(make_server: Any) -> None:
    server = make_server(sse_max_clients_per_ip=3)
    url = server.url + "/get-events/"
    limits = httpx.Limits(max_connections=10, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits) as http:
        held = [await _open_stream(http, url) for _ in range(3)]
        assert [r.status_code for r, _ in held] == [200, 200, 200]
        refused = await http.get(url)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"] == "rate_limited" and "3" in refused.json()["message"]
        assert (await http.get(server.url + "/stats")).status_code == 200, "REST is not affected"
        _, context = held.pop()
        await context.__aexit__(None, None, None)  # one stream closes: its slot is free again
        await _until_admitted(http, server.url)
        again, again_context = await _open_stream(http, url)
        assert again.status_code == 200
        await again_context.__aexit__(None, None, None)
        for _, context in held:
            await context.__aexit__(None, None, None)


async def test_event_stream_connects_count_against_the_rate_limit(make_server: Any) -> None:
    server = make_server(rate_limit_per_min=5)
    async with httpx.AsyncClient(base_url=server.url) as http:
        codes = []
        for _ in range(6):
            async with http.stream("GET", "/get-events/") as response:
                codes.append(response.status_code)
        assert codes == [200] * 5 + [429]
        limited = await http.get("/stats")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"] == "rate_limited"
        assert (await http.get("/healthz")).status_code == 200, "probes are not limited"


def test_forwarded_for_from_an_untrusted_peer_gets_no_bucket_of_its_own(make_server: Any) -> None:
    server = make_server(rate_limit_per_min=5)
    with httpx.Client(base_url=server.url) as http:
        codes = [
            http.get("/config.json", headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
            for i in range(10)
        ]
    assert codes == [200] * 5 + [429] * 5


def test_forwarded_for_from_a_trusted_proxy_names_the_client(make_server: Any) -> None:
    server = make_server(rate_limit_per_min=2, trusted_proxies="10.0.0.0/8, 127.0.0.1")
    with httpx.Client(base_url=server.url) as http:
        spread = [
            http.get("/config.json", headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
            for i in range(6)
        ]
        one = [
            http.get("/config.json", headers={"X-Forwarded-For": "203.0.113.7"}).status_code for _ in range(3)
        ]
        # what the client wrote itself comes first; the proxy appended the address it saw
        spoofed = [
            http.get("/config.json", headers={"X-Forwarded-For": f"192.0.2.{i}, 203.0.113.8"}).status_code
            for i in range(3)
        ]
    assert spread == [200] * 6 and one == [200, 200, 429] and spoofed == [200, 200, 429]


def _raw_request(port: int, head: bytes, timeout: float = 10) -> bytes:
    """Send a request head in one write and read the whole answer (the server closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_request_heads_over_the_limit_get_431_and_the_connection_closed(make_server: Any) -> None:
    server = make_server()
    one_big = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-H%d: %s\r\n" % (i, b"b" * 100) for i in range(200)
    )
    long_url = b"GET /healthz?" + b"q" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    for head in (one_big, many + b"\r\n", long_url):
        answer = _raw_request(server.port, head)
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
        assert b'"error": "headers_too_large"' in answer
    fine = _raw_request(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert fine.startswith(b"HTTP/1.1 200 ")


def test_the_limit_is_per_request_on_a_kept_alive_connection(make_server: Any) -> None:
    """Three pipelined requests, each head 10 KiB (30 KiB in all, in one write): all answered."""
    server = make_server()
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 10_000 + b"\r\n\r\n"
    last = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: " + b"p" * 10_000 + b"\r\n\r\n"
    answer = _raw_request(server.port, head + head + last)
    assert answer.count(b"HTTP/1.1 200 ") == 3, answer[:300]


def test_a_header_flood_is_cut_off_after_the_limit(make_server: Any) -> None:
    """100 MB of header: the server hangs up after the first few chunks instead of reading (and
    keeping) them all; it serves everyone else meanwhile."""
    server = make_server()
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Flood: ")
        chunk = b"a" * (1 << 20)
        with pytest.raises(OSError):  # reset or broken pipe: the server closed the connection
            for _ in range(100):
                sock.sendall(chunk)
                sent += len(chunk)
            sock.recv(1)  # (only reached if the server read it all)
    assert sent < 20 * (1 << 20), f"the server read {sent >> 20} MB of one header"
    assert httpx.get(server.url + "/healthz").status_code == 200


def _assert_limits_of_a_process(url: str) -> None:
    """The head limit, and no trust of a loopback peer's X-Forwarded-For (uvicorn's own defaults
    would trust it), on a server started with a rate limit of 5 a minute."""
    port = int(url.rsplit(":", 1)[1])
    head = b"GET /stats HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    assert _raw_request(port, head).startswith(b"HTTP/1.1 431 ")
    with httpx.Client(base_url=url) as http:
        codes = [
            http.get("/config.json", headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
            for i in range(8)
        ]
    assert codes == [200] * 5 + [429] * 3  # (the start-up probes of /healthz, /readyz are not counted)


def test_serve_applies_the_limits_with_its_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, feed_sequence: Path
) -> None:
    from dallas_calls.archive.store import decode_snapshot
    from dallas_calls.feed.source import list_snapshots

    monkeypatch.setenv("DALLAS_CALLS_RATE_LIMIT_PER_MIN", "5")
    snapshots = [decode_snapshot(p.read_bytes()) for _, p in list_snapshots(feed_sequence)][:1]
    server = LiveServer(tmp_path / "serve", snapshots)
    server.start()
    try:
        _assert_limits_of_a_process(server.url)
    finally:
        server.close()


def test_api_applies_the_limits_with_its_defaults(tmp_path: Path) -> None:
    proc, url = start_api(tmp_path / "api", env={"DALLAS_CALLS_RATE_LIMIT_PER_MIN": "5"})
    try:
        _assert_limits_of_a_process(url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_the_cap_counts_streams_until_their_sockets_are_gone(make_server: Any) -> None:
    """A client that drops its connections (no clean close) gets its slots back."""
    server = make_server(sse_max_clients_per_ip=2)
    for _ in range(3):
        socks = []
        for _ in range(2):
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(b"GET /get-events/ HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(100).startswith(b"HTTP/1.1 200 ")
            socks.append(sock)
        for sock in socks:
            sock.close()
        async with httpx.AsyncClient() as http:
            await _until_admitted(http, server.url)
    assert await wait_for(lambda: server.view.clients == 0, timeout=10)


def _read_until_closed(sock: socket.socket) -> bytes:
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


def test_a_connection_that_sends_no_whole_head_in_time_is_closed_with_408(make_server: Any) -> None:
    """Idle or dripping connections do not hold a descriptor for ever; a stream, once its head is
    in, stays open however long it lives."""
    server = make_server(request_head_timeout_s=1.0, sse_heartbeat_s=0.2)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as idle:
        assert _read_until_closed(idle).startswith(b"HTTP/1.1 408 ")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as drip:
        drip.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        with contextlib.suppress(OSError):  # the server may have closed it already
            for _ in range(3):  # a header a little at a time, well within the deadline
                time.sleep(0.1)
                drip.sendall(b"X-Slow: 1\r\n")
        answer = _read_until_closed(drip)
        assert answer.startswith(b"HTTP/1.1 408 ") and b"request_timeout" in answer
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as stream:
        stream.sendall(b"GET /get-events/ HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(1.5)  # past the head deadline
        received = stream.recv(65536)
        assert received.startswith(b"HTTP/1.1 200 ") or b": heartbeat" in received
        time.sleep(0.5)
        assert b": heartbeat" in stream.recv(65536), "the stream is still open"
