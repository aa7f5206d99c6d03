"""Counts visits in Redis, which it reaches by its service name."""
import os
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis

store = redis.Redis(host=os.environ["REDIS_HOST"], port=int(os.environ["REDIS_PORT"]))


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = b"ok\n"
        else:
            hits = store.incr("hits")
            body = f"hits: {hits} (app {os.environ['APP_VERSION']} on {socket.gethostname()})\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer(("", 8000), Handler).serve_forever()
