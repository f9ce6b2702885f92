#!/usr/bin/env python3
"""A stand-in for a witness, for the end-to-end tests of an agent's witnesses
(tests/e2e/service_witness.sh). It listens on 127.0.0.1 with a witness's own
TLS identity (so the agent's pin matches) and, for each add-checkpoint, does
what the file MODE_FILE says at that moment:

  honest  passes the request to the real witness BACKEND and its answer back
  slow    the same after SLOW seconds
  lie     the same, but every cosignature line of a 200 has one bit of its
          signature flipped (a cosignature that does not verify)
  hang    reads the request and never answers (the connection stays open)

usage: witness_standin.py MODE_FILE TLS_PEM BACKEND_URL [--port P] [--slow S] --port-file FILE
(the port file is written once listening). Loopback only; stopped by SIGTERM.
"""
import argparse
import base64
import http.server
import os
import signal
import ssl
import sys
import time
import urllib.error
import urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("mode_file")
ap.add_argument("pem")
ap.add_argument("backend")
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--slow", type=float, default=1.5)
ap.add_argument("--port-file", required=True)
args = ap.parse_args()
port_file, mode_file, pem, backend = args.port_file, args.mode_file, args.pem, args.backend
want_port, slow_s = args.port, args.slow

to_backend = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
to_backend.check_hostname = False
to_backend.verify_mode = ssl.CERT_NONE


def flip(line):
    # "— NAME BASE64": one bit of the Ed25519 signature (past the key id
    # and the timestamp) changed.
    head, _, sig = line.rpartition(" ")
    raw = bytearray(base64.b64decode(sig))
    raw[-1] ^= 1
    return head + " " + base64.b64encode(bytes(raw)).decode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("standin %s %s\n" % (self.mode, fmt % args))

    def do_POST(self):
        self.mode = open(mode_file).read().strip()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.mode == "hang":
            self.log_message("holding %s", self.path)
            time.sleep(3600)
            return
        if self.mode == "slow":
            time.sleep(slow_s)
        req = urllib.request.Request(backend + self.path, data=body, method="POST",
                                     headers={"Content-Type": "text/plain; charset=utf-8"})
        try:
            with urllib.request.urlopen(req, context=to_backend, timeout=10) as r:
                status, data = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, data = e.code, e.read()
        if self.mode == "lie" and status == 200:
            lines = data.decode().split("\n")
            data = "\n".join(flip(l) if l.startswith("\u2014 ") else l for l in lines).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


Handler.mode = "?"
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer.daemon_threads = True
srv = http.server.ThreadingHTTPServer(("127.0.0.1", want_port), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(pem)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
