"""The project's gunicorn configuration: one write per response that comes whole with its length."""

import importlib.util
from pathlib import Path

import pytest
from gunicorn.config import Config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def response_class():
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.OneWriteResponse


class Request:
    """What gunicorn's response reads of the request it answers."""

    version = (1, 1)

    def __init__(self, method="GET"):
        self.method = method

    def should_close(self):
        return False


class Socket:
    """Records each write gunicorn makes (each one is a separate send on a real socket)."""

    def __init__(self):
        self.writes = []

    def sendall(self, data):
        self.writes.append(bytes(data))


def respond(response_class, body_parts, headers, method="GET"):
    sock = Socket()
    response = response_class(Request(method), sock, Config())
    response.start_response("200 OK", headers)
    for part in body_parts:
        response.write(part)
    response.close()
    return sock.writes


def test_a_body_given_whole_with_its_length_leaves_with_its_head_in_one_write(response_class):
    body = b'{"status":"ok"}'

    writes = respond(response_class, [body], [("Content-Type", "application/json"), ("Content-Length", "15")])

    assert len(writes) == 1
    head, _blank, sent_body = writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Length: 15" in head
    assert sent_body == body


def test_a_body_without_a_length_is_sent_in_chunks_as_gunicorn_does(response_class):
    writes = respond(response_class, [b"first", b"second"], [("Content-Type", "text/plain")])

    assert len(writes) > 1
    assert b"Transfer-Encoding: chunked" in writes[0]
    assert b"".join(writes).endswith(b"0\r\n\r\n")


def test_a_body_in_several_pieces_is_written_piece_by_piece(response_class):
    writes = respond(response_class, [b"12345", b"67890"], [("Content-Length", "10")])

    assert b"".join(writes).endswith(b"\r\n\r\n1234567890")
    assert len(writes) == 3


def test_a_head_request_gets_the_head_only(response_class):
    writes = respond(response_class, [b'{"status":"ok"}'], [("Content-Length", "15")], method="HEAD")

    assert b"".join(writes).endswith(b"\r\n\r\n")
