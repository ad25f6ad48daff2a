"""
The Edge API fuzz corpus: malformed and odd requests, grouped by what they try.

Each case is `(group, method, path, headers, body, credential)`. `{ds}` in the path stands for the datastream's id
and `{ecid}` in a body for a member's ECID; `credential` names the caller the test signs the request as: None,
"valid" (a credential of the datastream's sandbox), "foreign" (another sandbox's), "revoked", "forged" or
"wrong_key" (a valid token with another client's x-api-key). Only "valid" may ever see `attributes`.
"""

import json

__all__ = ["CORPUS", "TOKEN_CORPUS", "cases", "token_cases"]

V2 = "/ee/v2/interact?datastreamId={ds}"
V1 = "/ee/v1/interact?configId={ds}"
JSON = {"Content-Type": "application/json"}


def _body(**extra) -> dict:
    return {"event": {"xdm": {"identityMap": {"ECID": [{"id": "{ecid}", "primary": True}]}}}, **extra}


def _sdk_body(**extra) -> dict:
    return {"events": [{"xdm": {"identityMap": {"ECID": [{"id": "{ecid}", "primary": True}]}}}], **extra}


def _encode(body) -> bytes:
    return json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _broken_json():
    valid = _encode(_body())
    for cut in range(1, len(valid), max(1, len(valid) // 24)):
        yield "broken JSON", "POST", V2, JSON, valid[:cut], None
    for raw in [
        b"{",
        b"}",
        b"[",
        b"{]",
        b'{"event":}',
        b'{"event": {"xdm": {,}}}',
        b"{'event': {}}",
        b'{"event": NaN}',
        b'{"event": Infinity}',
        b'{"event": 1e999999}',
        b'{"event": -0}',
        b"null",
        b"true",
        b"0",
        b'"text"',
        b"[]",
        b"{}",
        b'{"event": {}} {"event": {}}',
        b'{"event": {}} // comment',
        b"/* c */ {}",
        b"\xef\xbb\xbf{}",
        b"\xef\xbb\xbf\xef\xbb\xbf{}",
        b'{"event": {"xdm": {"identityMap": {"ECID": [{"id": "1",}]}}}}',
        b'{"a": "\\x41"}',
        b'{"a": "\\u12"}',
        b'{"a": "\\ud83d"}',
        b'{"event": {"event": {"event": 1}}}',
        b"\x00",
        b"\x00{}",
        b"{}\x00",
        b"\xff\xfe{\x00}\x00",
        b"   ",
        b"\t\r\n{}\t\r\n",
    ]:
        yield "broken JSON", "POST", V2, JSON, raw, None


def _deep_json():
    for depth in (64, 500, 999, 1000, 5000, 100_000):
        for path in (V2, V1):
            yield "deep JSON", "POST", path, JSON, b"[" * depth + b"]" * depth, None
            yield "deep JSON", "POST", path, JSON, b'{"a":' * depth + b"1" + b"}" * depth, None
    deep_xdm = b'{"event": {"xdm": ' + b'{"x":' * 3000 + b"1" + b"}" * 3000 + b"}}"
    yield "deep JSON", "POST", V2, JSON, deep_xdm, None


_ODD_VALUES = [None, True, 0, -1, 1.5, "x", "", [], {}, [None], [1, 2], {"a": 1}, "\u0000"]


def _set(body, path, value):
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


def _wrong_types():
    v2_paths = [
        ("event",),
        ("event", "xdm"),
        ("event", "xdm", "identityMap"),
        ("event", "xdm", "identityMap", "ECID"),
        ("event", "xdm", "identityMap", "ECID", 0),
        ("event", "xdm", "identityMap", "ECID", 0, "id"),
        ("event", "xdm", "identityMap", "ECID", 0, "primary"),
        ("event", "xdm", "identityMap", "ECID", 0, "authenticatedState"),
        ("query",),
        ("meta",),
    ]
    for path in v2_paths:
        for value in _ODD_VALUES:
            yield "wrong types", "POST", V2, JSON, _encode(_set(_body(), path, value)), None
    sdk_body = _sdk_body(
        query={"identity": {"fetch": ["ECID"]}}, meta={"state": {"entries": [{"key": "k", "value": "v"}]}}
    )
    v1_paths = [
        ("events",),
        ("events", 0),
        ("events", 0, "xdm"),
        ("query",),
        ("query", "identity"),
        ("query", "identity", "fetch"),
        ("meta",),
        ("meta", "state"),
        ("meta", "state", "entries"),
        ("meta", "state", "entries", 0),
        ("meta", "state", "entries", 0, "value"),
    ]
    for path in v1_paths:
        for value in _ODD_VALUES:
            body = json.loads(json.dumps(sdk_body))
            yield "wrong types", "POST", V1, JSON, _encode(_set(body, path, value)), None
    yield "wrong types", "POST", V2, JSON, _encode({**_body(), "event": [_body()["event"]]}), None


def _identity(value, namespace="ECID"):
    return _encode({"event": {"xdm": {"identityMap": {namespace: [{"id": value, "primary": True}]}}}})


def _unicode():
    for value in [
        "\u0000",
        "1\u0000",
        "\ud800",
        "\udfff",
        "\ud83d\ude00",
        "\u200b12345678901234567890123456789012345678",
        "\u202e12345678901234567890123456789012345678",
        "\ufeff",
        "\uffff",
        "e\u0301",
        "\U0010ffff",
        " " * 40,
        "9" * 10_000,
        "ada@example.com\u0000",
        "\u0085",
        "\u2028",
        "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨",
    ]:
        yield "unicode", "POST", V2, JSON, _identity(value), None
        yield "unicode", "POST", V2, JSON, _identity("x", namespace=value[:64]), None
    for raw in [b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\xfe", b"caf\xe9"]:
        yield (
            "unicode",
            "POST",
            V2,
            JSON,
            b'{"event": {"xdm": {"identityMap": {"ECID": [{"id": "' + raw + b'"}]}}}}',
            None,
        )


def _oversize():
    padding = "x" * (64 * 1024)
    yield "oversize", "POST", V2, JSON, _encode(_body(pad=padding)), None
    yield "oversize", "POST", V2, JSON, b" " * (64 * 1024 + 1), None
    yield "oversize", "POST", V2, JSON, _encode(_body(pad="x" * (1024 * 1024))), None
    yield "oversize", "POST", V2, {**JSON, "Content-Length": "10"}, _encode(_body()), None
    yield "oversize", "POST", V2, {**JSON, "Content-Length": "0"}, b"", None
    many = {"event": {"xdm": {"identityMap": {"NS%d" % i: [{"id": str(i)}] for i in range(3000)}}}}
    yield "oversize", "POST", V2, JSON, _encode(many), None
    items = {"event": {"xdm": {"identityMap": {"ECID": [{"id": str(10**37 + i)} for i in range(2000)]}}}}
    yield "oversize", "POST", V2, JSON, _encode(items), None


def _content_types():
    body = _encode(_body())
    for content_type in [
        None,
        "",
        "text/html",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "application/json; charset=klingon",
        "application/json; charset=base64",
        "application/json; charset=rot13",
        "application/json; charset=utf-16",
        "application/json; charset=",
        "application/json;;;",
        "APPLICATION/JSON",
        "application/json; charset=utf-8; charset=latin-1",
        'text/plain; charset="utf-8"',
        "*/*",
        "application/xml",
    ]:
        headers = {} if content_type is None else {"Content-Type": content_type}
        yield "content types", "POST", V2, headers, body, None
        yield "content types", "POST", V1, headers, body, None


def _credentials():
    body = _encode(_body())
    for credential in ("valid", "foreign", "revoked", "forged", "wrong_key"):
        yield "credentials", "POST", V2, JSON, body, credential
        yield "credentials", "POST", V1, JSON, _encode(_sdk_body()), credential
    for header in [
        "Bearer",
        "Bearer ",
        "bearer cpct_x",
        "Basic dXNlcjpwYXNz",
        "Bearer " + "a" * 4000,
        "Token abc",
        "Bearer cpct_\u00e9",
        "Bearer \t",
        "Bearer a b c",
    ]:
        yield "credentials", "POST", V2, {**JSON, "Authorization": header.encode("utf-8").decode("latin-1")}, body, None
    yield "credentials", "POST", V2, {**JSON, "x-api-key": "someone"}, body, None


def _query_strings():
    body = _encode(_body())
    for path in [
        "/ee/v2/interact",
        "/ee/v2/interact?",
        "/ee/v2/interact?datastreamId=",
        "/ee/v2/interact?datastreamId={ds}&datastreamId=x",
        "/ee/v2/interact?datastreamId=x&datastreamId={ds}",
        "/ee/v2/interact?datastreamId=%00",
        "/ee/v2/interact?datastreamId[]={ds}",
        "/ee/v2/interact?datastreamId={{{ds}}}",
        "/ee/v2/interact?datastreamId=" + "a" * 2000,
        "/ee/v2/interact?datastreamId={ds}&requestId=%0d%0aX:%20y",
        "/ee/v2/interact?datastreamId={ds}&requestId=" + "r" * 3000,
        "/ee/v2/interact?datastreamId={ds}&requestId=%ff",
        "/ee/v2/interact?dataStreamId={ds}&configId=00000000-0000-0000-0000-000000000000",
        "/ee/v2/interact?datastreamId=%7B{ds}%7D",
        "/ee/v2/interact?datastreamId={ds}#fragment",
        "/ee/../ee/v2/interact?datastreamId={ds}",
        "//ee/v2/interact?datastreamId={ds}",
        "/ee//v2/interact?datastreamId={ds}",
        "/ee/v2/interact/?datastreamId={ds}",
        "/ee/V2/interact?datastreamId={ds}",
        "/ee/xx1/v2/interact?datastreamId={ds}",
        "/ee/or2/v2/interact?datastreamId={ds}",
        "/ee/v2/collect?datastreamId={ds}&silent=maybe",
        "/ee/v2/collect",
        "/ee/%2e%2e/admin/",
        "/ee/v2/interact%00?datastreamId={ds}",
        "/ee/v2/interact?datastreamId={ds}&" + "&" * 500,
    ]:
        yield "query strings", "POST", path, JSON, body, None
    for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"):
        yield "query strings", method, V2, JSON, body, None
        yield "query strings", method, "/ee/v2/collect?datastreamId={ds}", JSON, body, None


def cases():
    """Yield every case of the corpus."""
    for group in (_broken_json, _deep_json, _wrong_types, _unicode, _oversize, _content_types, _credentials,
                  _query_strings):  # fmt: skip
        yield from group()


CORPUS = list(cases())


# The token endpoint's corpus: `{id}` and `{secret}` in a body or a header stand for the credential's, and an
# Authorization header `Basic {b64:…}` is base64 of what is inside once they are filled in; only a case marked
# valid sends the real pair and may get a token.
TOKEN = "/oauth/token"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
GOOD = b"grant_type=client_credentials&client_id={id}&client_secret={secret}"


def _basic(pair: bytes) -> dict:
    return {"Authorization": "Basic {b64:%s}" % pair.decode("latin-1")}


def token_cases():
    """Yield `(group, method, path, headers, body, valid)` cases for `/oauth/token`."""
    yield "token: valid", "POST", TOKEN, FORM, GOOD, True
    yield "token: valid", "POST", TOKEN, {**FORM, **_basic(b"{id}:{secret}")}, b"grant_type=client_credentials", True
    for body in [
        b"",
        b"grant_type=",
        b"grant_type=client_credentials",
        b"grant_type=client_credentials&client_id={id}",
        b"grant_type=client_credentials&client_id={id}&client_secret=",
        b"grant_type=client_credentials&client_id={id}&client_secret=wrong",
        b"grant_type=client_credentials&client_id=&client_secret={secret}",
        b"grant_type=client_credentials&client_id={id}%00&client_secret={secret}",
        b"grant_type=client_credentials&client_id={id}&client_secret={secret}%00",
        b"grant_type=client_credentials&client_id=%ff%fe&client_secret=x",
        b"grant_type=client_credentials&client_id=%ed%a0%80&client_secret=x",
        b"grant_type=password&username={id}&password={secret}",
        b"grant_type=refresh_token&refresh_token=x",
        b"grant_type=client_credentials&grant_type=password&client_id={id}&client_secret={secret}",
        b"grant_type=client_credentials&scope=openid&scope=x&client_id={id}&client_secret=wrong",
        b"grant_type=client_credentials&client_id={id}&client_id=other&client_secret=wrong",
        b"grant_type=client_credentials&client_id=" + b"a" * 5000 + b"&client_secret=x",
        b"grant_type=client_credentials&client_id=x&client_secret=" + b"s" * 100000,
        b"&&&&&&=&=&==",
        b"%",
        b"%%%%",
        b"grant_type",
        b"=client_credentials",
        b"\x00\x01",
        b"\xff\xfe\x00",
        b"grant_type=client_credentials;client_id={id};client_secret=wrong",
        b"grant_type=client%5Fcredentials&client_id={id}&client_secret=wrong",
        b"grant_type=CLIENT_CREDENTIALS&client_id={id}&client_secret={secret}x",
        b"a=" + b"&a=".join(b"%d" % i for i in range(2000)),
        b"\xef\xbb\xbfgrant_type=client_credentials",
    ]:
        yield "token: form bodies", "POST", TOKEN, FORM, body.decode("unicode_escape").encode("latin-1"), False
    for header in [
        "Basic",
        "Basic ",
        "Basic ====",
        "Basic not base64!",
        "Basic e2lkfQ==",  # "{id}" without a colon
        "Basic Ont9",  # ":{}"
        "basic " + "QQ==" * 250,
        "Bearer cpct_x",
        "Digest username=x",
        "Basic\tx",
    ]:
        yield "token: authorization", "POST", TOKEN, {**FORM, "Authorization": header.replace("\\t", "\t")}, GOOD, False
    for pair in [b"{id}:wrong", b"{id}:", b":{secret}", b"\xff:\xfe", b"{id}\x00:{secret}", b"{id}:{secret}:extra"]:
        yield (
            "token: authorization",
            "POST",
            TOKEN,
            {**FORM, **_basic(pair.decode("unicode_escape").encode("latin-1"))},
            b"grant_type=client_credentials",
            False,
        )
    yield "token: authorization", "POST", TOKEN, {**FORM, **_basic(b"{id}:{secret}")}, GOOD, False  # both ways
    for content_type in [
        None,
        "",
        "application/json",
        "application/json; charset=utf-16",
        "multipart/form-data; boundary=x",
        "multipart/form-data",
        "text/plain",
        "application/x-www-form-urlencoded; charset=klingon",
        "application/x-www-form-urlencoded; charset=utf-16",
        "application/xml",
    ]:
        headers = {} if content_type is None else {"Content-Type": content_type}
        yield "token: content types", "POST", TOKEN, headers, GOOD.replace(b"{secret}", b"wrong"), False
    for body in [
        b"{",
        b"[]",
        b"null",
        b"1",
        b'{"grant_type": {"a": 1}}',
        b'{"grant_type": ["client_credentials"]}',
        b'{"grant_type": "client_credentials", "client_id": "{id}", "client_secret": 5}',
        b'{"grant_type": "client_credentials", "client_id": null}',
        b"[" * 5000 + b"]" * 5000,
        rb'{"grant_type": "client_credentials", "client_id": "{id}\u0000", "client_secret": "{secret}"}',
        rb'{"grant_type": "client_credentials", "client_id": "\ud800", "client_secret": "x"}',
    ]:
        yield "token: json bodies", "POST", TOKEN, {"Content-Type": "application/json"}, body, False
    for query in [
        "?client_id={id}&client_secret={secret}",
        "?grant_type=client_credentials",
        "?",
        "?%ff",
        "?a=" + "b" * 3000,
    ]:
        yield "token: query strings", "POST", TOKEN + query, FORM, b"grant_type=client_credentials", False
    for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"):
        yield "token: query strings", method, TOKEN, FORM, GOOD, False


TOKEN_CORPUS = list(token_cases())
