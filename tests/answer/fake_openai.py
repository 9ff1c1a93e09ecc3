"""A real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions protocol (for tests).

It records every request body and answers with a scripted reply, either as one JSON
object or as Server-Sent Events (``data: {...}`` chunks, then ``data: [DONE]``).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAI:
    def __init__(self, reply: str = "", status: int = 200, finish_reason: str = "stop", reasoning: str = "", delay: float = 0.0):
        self.reply = reply
        self.finish_reason = finish_reason  # "length": the reply was cut at max_tokens
        self.reasoning = reasoning  # sent apart as reasoning_content, as DeepSeek's API does
        self.delay = delay  # seconds before answering (a slow model)
        self.replies: list[str] = []  # consumed first, one per request, when set
        self.status = status
        self.statuses: list[int] = []  # consumed first, one per request, when set
        self.requests: list[dict] = []
        self.paths: list[str] = []
        self.headers: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(body)
                server.paths.append(self.path)
                server.headers.append({k.lower(): v for k, v in self.headers.items()})
                status = server.statuses.pop(0) if server.statuses else server.status
                if status != 200:
                    payload = json.dumps({"error": {"message": "model overloaded", "type": "server_error"}}).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                reply = server.replies.pop(0) if server.replies else server.reply
                time.sleep(server.delay)
                if body.get("stream"):
                    self._stream(body, reply)
                else:
                    self._complete(body, reply)

            def _complete(self, body, reply):
                payload = json.dumps(
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model"),
                        "choices": [{"index": 0, "finish_reason": server.finish_reason,
                                     "message": {"role": "assistant", "content": reply, "reasoning_content": server.reasoning or None}}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                    },
                    ensure_ascii=False,
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _stream(self, body, reply):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                thoughts = [{"reasoning_content": server.reasoning[i : i + 4]} for i in range(0, len(server.reasoning), 4)]
                pieces = [{"content": reply[i : i + 4]} for i in range(0, len(reply), 4)]
                for i, delta in enumerate([{"role": "assistant", "content": ""}] + thoughts + pieces):
                    chunk = {
                        "id": "chatcmpl-test",
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": body.get("model"),
                        "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                    self.wfile.flush()
                final = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": int(time.time()),
                         "model": body.get("model"), "choices": [{"index": 0, "delta": {}, "finish_reason": server.finish_reason}]}
                self.wfile.write(f"data: {json.dumps(final)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "FakeOpenAI":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
