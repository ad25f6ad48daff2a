"""A local HTTP server standing in for a customer's webhook receiver: it answers scripted statuses and keeps
every request, verifying each signature with the `standardwebhooks` library as a real receiver would."""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    headers: dict
    body: bytes
    verified: bool

    @property
    def payload(self) -> dict:
        return json.loads(self.body)

    @property
    def message_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class WebhookReceiver:
    secret: str = ""
    statuses: list = field(default_factory=list)  # answered in turn; 200 once they run out
    received: list = field(default_factory=list)
    hold_first: float = 0.0  # seconds the first request waits for its answer (a slow receiver)

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                try:
                    Webhook(receiver.secret).verify(body, headers)
                    verified = True
                except (WebhookVerificationError, ValueError):
                    verified = False
                receiver.received.append(Received(headers, body, verified))
                if receiver.hold_first and len(receiver.received) == 1:
                    time.sleep(receiver.hold_first)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d/hooks" % self.server.server_address[1]

    def distinct_messages(self) -> set:
        return {request.message_id for request in self.received}

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
