"""An OpenAI-compatible chat-completions server on 127.0.0.1 for tests.

It speaks the real wire protocol (JSON and server-sent-event streaming), so the real
``openai``/``langchain-openai`` clients talk to it unchanged. A test sets ``reply`` to a
function of the request's messages, and may set ``mode`` to misbehave.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.servers import LocalHTTPServer

Messages = list[dict[str, Any]]


def _default_reply(messages: Messages) -> str:
    return "NOT_IN_DOCUMENTS"


class OpenAIServer(LocalHTTPServer):
    """Start with ``with OpenAIServer() as srv:``; ``srv.base_url`` goes to OPENAI_BASE_URL."""

    def __init__(self) -> None:
        self.reply: Callable[[Messages], str] = _default_reply
        self.mode = "ok"  # "ok", "error" (HTTP 500), "garbage" (not JSON), "slow"
        self.delay_s = 0.0
        self.requests: list[dict[str, Any]] = []
        super().__init__(self._handler())

    @property
    def base_url(self) -> str:
        """The ``/v1`` root the OpenAI client expects."""
        return self.url("/v1")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.requests.append({"path": self.path, "body": body,
                                       "auth": self.headers.get("Authorization", "")})
                if not self.path.endswith("/chat/completions"):
                    self._send(404, b'{"error": {"message": "not found"}}')
                    return
                if outer.mode == "error":
                    self._send(500, b'{"error": {"message": "internal error"}}')
                    return
                if outer.mode == "garbage":
                    self._send(200, b"<html>this is not an API</html>", "text/html")
                    return
                if outer.mode == "slow":
                    time.sleep(outer.delay_s)
                text = outer.reply(body.get("messages", []))
                model = body.get("model", "test-model")
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    pieces = [text[i:i + 12] for i in range(0, len(text), 12)] or [""]
                    for i, piece in enumerate(pieces):
                        self._event({"id": "c1", "object": "chat.completion.chunk",
                                     "created": 0, "model": model, "choices": [{
                                         "index": 0, "delta": {"role": "assistant",
                                                               "content": piece} if i == 0
                                         else {"content": piece}, "finish_reason": None}]})
                    self._event({"id": "c1", "object": "chat.completion.chunk", "created": 0,
                                 "model": model, "choices": [{"index": 0, "delta": {},
                                                              "finish_reason": "stop"}]})
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    return
                payload = {
                    "id": "c1", "object": "chat.completion", "created": 0, "model": model,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
                self._send(200, json.dumps(payload).encode())

            def _event(self, obj: dict[str, Any]) -> None:
                self.wfile.write(b"data: " + json.dumps(obj).encode() + b"\n\n")
                self.wfile.flush()

            def _send(self, status: int, data: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
