"""The active probe of app/report.py against a real local HTTP server."""

from __future__ import annotations

import http.server
import threading

from support.api_objects import pod

from ansible_collections.redundant.kube.plugins.module_utils.app.report import call_probe


def test_http_active_probe_against_a_real_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/hot" else 503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        a = pod("server-a", "server", "server", "a", "n1")
        a["status"]["podIP"] = "127.0.0.1"
        b = pod("server-b", "server", "server", "b", "n2")  # no IP yet: not active
        probe = {"type": "http", "scheme": "http", "port": server.server_port, "path": "/hot"}
        assert call_probe(None, "ns")(probe, [a, b]) == [a]
        assert call_probe(None, "ns")({**probe, "path": "/cold"}, [a, b]) == []
    finally:
        server.shutdown()
