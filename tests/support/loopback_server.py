"""The lifecycle every loopback stand-in of a remote API shares (Twilio's, OpenAI's).

A stand-in is a threaded HTTP server on 127.0.0.1 and a random port, scripted by the test
(`_script`: what the next requests get), recording what it received (`requests`).
"""

from __future__ import annotations

import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self


class LoopbackServer:
    host: str
    requests: list
    handler_class: ClassVar[type[BaseHTTPRequestHandler]]
    thread_name: ClassVar[str] = "loopback-standin"

    def _init_loopback(self) -> None:
        self._lock = threading.Lock()
        self._script: deque[Any] = deque()
        self._stopping = threading.Event()  # set on stop(): wakes hanging handlers
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def root_url(self) -> str:
        assert self._server is not None, "the stand-in is not running"
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> Self:
        handler = type("Handler", (self.handler_class,), {"owner": self})
        self._server = ThreadingHTTPServer((self.host, 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits at most one poll
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_script(self) -> Any:
        with self._lock:
            return self._script.popleft() if self._script else None

    def _record(self, request: Any) -> None:
        with self._lock:
            self.requests.append(request)
