"""A Content-Type naming a codec that is no text encoding gets a 415 from the server, never its bare 500 page."""

import io
import json

import pytest

from personalization.wsgi import application

pytestmark = pytest.mark.django_db


def call(path: str, content_type: str, query: str = "datastreamId=x") -> tuple[str, dict, bytes]:
    body = b'{"event": {}}'
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "HTTP_HOST": "localhost",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.url_scheme": "http",
    }
    started = {}

    def start_response(status, headers, exc_info=None):
        started.update(status=status, headers=dict(headers))

    answer = b"".join(application(environ, start_response))
    return started["status"], started["headers"], answer


@pytest.mark.parametrize("charset", ["base64", "rot13", '"zlib"'])
def test_a_lookup_with_a_non_text_charset_gets_the_edge_networks_415(charset):
    status, headers, answer = call("/ee/v2/interact", "application/json; charset=%s" % charset)

    assert status.startswith("415")
    assert headers["Content-Type"] == "application/problem+json"
    problem = json.loads(answer)
    assert problem["type"].endswith("EXEG-0111-415")
    assert "send UTF-8" in problem["detail"]


def test_a_page_with_a_non_text_charset_gets_a_plain_415():
    status, headers, answer = call("/accounts/login/", "application/x-www-form-urlencoded; charset=base64", "next=/")

    assert status.startswith("415")
    assert headers["Content-Type"].startswith("text/plain")
    assert b"base64 is not a text encoding" in answer


def test_an_ordinary_charset_passes_through():
    status, _headers, answer = call("/ee/v2/interact", "application/json; charset=utf-8")

    assert status.startswith("400")  # the datastream id is not one: the edge's own answer, not the guard's
    assert b"EXEG-0003-400" in answer
