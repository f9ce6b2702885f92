#!/usr/bin/env python3
"""Sends raw bytes to a doormat service over TLS, for the end-to-end tests.

    raw_https.py PORT REQUEST_FILE [SECONDS]

Connects to 127.0.0.1:PORT (the certificate is not checked: the tests look
at the server's answers), sends REQUEST_FILE as it is, then reads whatever
comes back, waiting at most SECONDS (5) for the server to close. Prints the
status code of every response received, one a line, then "closed" when the
server closed the connection, "reset" when it reset it, or "open"; the
bodies go to REQUEST_FILE.body.
"""
import re
import socket
import ssl
import sys
import time


def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
    data = open(path, "rb").read()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=seconds))

    # One thread: an SSL socket must not be written and read at once from two
    # threads (that lost answers on a busy machine). The whole request goes
    # first; a server that refuses early keeps reading (a lingering close), so
    # the send completes, and its answer then waits to be read.
    try:
        s.sendall(data)
    except OSError:
        pass
    got, end = b"", "open"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except (ConnectionResetError, ssl.SSLError, OSError) as e:
            end = "reset" if isinstance(e, ConnectionResetError) or "reset" in str(e).lower() else "closed"
            break
        if not chunk:
            end = "closed"
            break
        got += chunk
    for m in re.finditer(rb"(?:^|\r\n)HTTP/1\.[01] (\d{3}) ", got):
        print(m.group(1).decode())
    print(end)
    with open(path + ".body", "wb") as f:
        f.write(got)


if __name__ == "__main__":
    main()
