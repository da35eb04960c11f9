"""Bodies as the production web server (gunicorn) hands them over: a chunked body (no
Content-Length) is read, not taken as empty; a body over its address's limit is refused
with a 413 before it is read in full, whether its length is declared or it is chunked.

Each request is written by hand on a socket, so a test can stop sending halfway and still
read the answer: the server answered without waiting for the rest.
"""

import json
import socket

import pytest

from orders.tests.factories import another_staff
from pharmacy.models import Role
from pharmacy.services import create_api_token
from pharmacy.tests.servers import (
    ROOT,
    free_port,
    process_environment,
    start_gunicorn,
    stop_process,
    wait_for_health,
)
from shipping.carriers import MAX_WEBHOOK_BYTES, hmac_hex
from shipping.models import CarrierEvent, Shipment
from shipping.services.shipments import hand_over_to_carrier
from shipping.tests.factories import labelled_shipment

SECRET = "chunked-webhook-secret-for-the-tests-0123456789"
WEBHOOK = "/api/v1/shipping/events/local/"


@pytest.fixture
def web_server(transactional_db):
    port = free_port()
    log = ROOT / "test-artifacts" / "request-limits-web.log"
    log.parent.mkdir(exist_ok=True)
    env = process_environment(LOCAL_CARRIER_WEBHOOK_SECRET=SECRET)
    process = start_gunicorn(port, env, workers=1, threads=2, log=log)
    try:
        wait_for_health(port, timeout=60)
        yield port
    finally:
        stop_process(process)


def send(port: int, head: str, parts: list[bytes], *, finish: bool = True) -> tuple[int, bytes]:
    """Send ``head`` (request line and headers) then ``parts`` as they are; read the
    answer (status and body) even when ``finish`` is False and the body was cut short."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        conn.sendall(head.encode() + b"\r\n")
        for part in parts:
            conn.sendall(part)
        if finish:
            conn.shutdown(socket.SHUT_WR)
        answer = b""
        while b"\r\n\r\n" not in answer or not _complete(answer):
            data = conn.recv(65536)
            if not data:
                break
            answer += data
    headers, _, body = answer.partition(b"\r\n\r\n")
    return int(headers.split(b" ", 2)[1]), body


def _complete(answer: bytes) -> bool:
    headers, _, body = answer.partition(b"\r\n\r\n")
    for line in headers.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def chunked(body: bytes, size: int = 1000) -> list[bytes]:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return [b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces]


def headers(path: str, *lines: str) -> str:
    return "\r\n".join(
        [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *lines, ""]
    )


@pytest.fixture
def shipment(transactional_db):
    shipment = labelled_shipment()
    hand_over_to_carrier([shipment], by=another_staff(Role.TECHNICIAN))
    return shipment


def test_a_chunked_webhook_is_read_whole(web_server, shipment):
    body = json.dumps(
        {
            "event_id": "evt-chunked",
            "tracking_number": shipment.tracking_number,
            "status": "in_transit",
            "occurred_at": "2026-01-01T09:00:00Z",
            "detail": "Scanned at the depot " + "." * 3000,
        }
    ).encode()
    head = headers(
        WEBHOOK,
        "Content-Type: application/json",
        "Transfer-Encoding: chunked",
        f"X-Signature: {hmac_hex(SECRET, body)}",
    )

    status, answer = send(web_server, head, [*chunked(body), b"0\r\n\r\n"])

    assert (status, json.loads(answer)) == (
        200,
        {"event_id": "evt-chunked", "outcome": "applied", "replay": False},
    )
    assert CarrierEvent.objects.get().event_id == "evt-chunked"


def test_a_chunked_webhook_over_the_limit_is_a_413_before_its_end(web_server, shipment):
    body = b"x" * (MAX_WEBHOOK_BYTES + 8192)
    head = headers(
        WEBHOOK, "Content-Type: application/json", "Transfer-Encoding: chunked", "X-Signature: 0"
    )

    # The last chunk is never sent: the answer comes before the body ends (gunicorn reads
    # ahead a KiB at most past what is asked for, so a few KiB more are on their way).
    status, answer = send(web_server, head, chunked(body, 4096), finish=False)

    assert (status, json.loads(answer)) == (
        413,
        {
            "error": "too_large",
            "detail": "The body is larger than the 65,536 bytes this address accepts; "
            "nothing was read.",
        },
    )
    assert CarrierEvent.objects.count() == 0


def test_a_declared_length_over_the_limit_is_a_413_before_a_byte_is_read(web_server, shipment):
    token = create_api_token(another_staff(Role.TECHNICIAN)).key
    head = headers(
        "/api/v1/patients/",
        "Content-Type: application/json",
        f"Authorization: Token {token}",
        "Content-Length: 50000000",
    )

    # Only the first bytes of the 50 MB announced are ever sent.
    status, answer = send(web_server, head, [b'{"last_name": "'], finish=False)

    assert (status, json.loads(answer)["error"]) == (413, "too_large")


def test_a_chunked_e_prescription_over_the_limit_is_still_a_script_error(web_server, shipment):
    token = create_api_token(another_staff(Role.TECHNICIAN)).key
    head = headers(
        "/api/v1/erx/ncpdp/",
        "Content-Type: application/xml",
        f"Authorization: Token {token}",
        "Transfer-Encoding: chunked",
    )
    body = b"<Message>" + b" " * (1024 * 1024 + 65536) + b"</Message>"

    status, answer = send(web_server, head, chunked(body, 65536), finish=False)

    assert status == 400
    assert b"<Error>" in answer
    assert b"at most 1,048,576" in answer
    assert Shipment.objects.count() == 1
