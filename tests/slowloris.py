#!/usr/bin/env python3
"""A slow-client attack on a doormat service, for the end-to-end tests.

    slowloris.py PORT CONNECTIONS SECONDS SOURCE... [--interval S] [--again S]
                 [--ready FILE]

Holds CONNECTIONS TLS connections to 127.0.0.1:PORT (spread over the SOURCE
addresses, each a loopback address such as 127.0.0.2 the connections are made
from), each sending one byte of a request header every --interval seconds
(3), never finishing it. A connection the server closes is made again --again
seconds later (0.5). After SECONDS everything is closed and the counts are printed
on one line: made, closed by the server, bytes sent. --ready FILE is written
once every connection has been tried and has sent its first byte.
"""
import asyncio
import ssl
import sys

HEADER = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4096


def main():
    args = sys.argv[1:]
    interval, again, ready = 3.0, 0.5, None
    if "--again" in args:
        i = args.index("--again")
        again = float(args[i + 1])
        del args[i:i + 2]
    if "--interval" in args:
        i = args.index("--interval")
        interval = float(args[i + 1])
        del args[i:i + 2]
    if "--ready" in args:
        i = args.index("--ready")
        ready = args[i + 1]
        del args[i:i + 2]
    port, n, seconds, sources = int(args[0]), int(args[1]), float(args[2]), args[3:]
    if not sources or n < 1 or seconds <= 0:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    stats = {"made": 0, "closed": 0, "bytes": 0, "started": 0}
    writers = set()

    async def one(k, deadline, first):
        loop = asyncio.get_running_loop()
        src = sources[k % len(sources)]
        while loop.time() < deadline:
            w = None
            try:
                r, w = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port, ssl=ctx, local_addr=(src, 0)),
                    timeout=max(0.1, deadline - loop.time()))
                writers.add(w)
                stats["made"] += 1
                sent = 0
                while loop.time() < deadline:
                    w.write(HEADER[sent:sent + 1])
                    await w.drain()
                    sent = (sent + 1) % len(HEADER)
                    stats["bytes"] += 1
                    if first is not None:
                        first.set_result(True)
                        first = None
                    # A closed connection shows as EOF (or an error) on read.
                    try:
                        data = await asyncio.wait_for(r.read(1), timeout=interval)
                        if not data:
                            break
                    except asyncio.TimeoutError:
                        pass
            except (OSError, ssl.SSLError, asyncio.TimeoutError, ConnectionError):
                pass
            finally:
                if first is not None:
                    first.set_result(True)
                    first = None
                if w is not None:
                    writers.discard(w)
                    w.close()
            if loop.time() < deadline:
                stats["closed"] += 1
                await asyncio.sleep(again)

    async def run():
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        firsts = [loop.create_future() for _ in range(n)]
        tasks = [asyncio.create_task(one(k, deadline, firsts[k])) for k in range(n)]
        await asyncio.wait(firsts, timeout=seconds)
        if ready:
            with open(ready, "w") as f:
                f.write("%d\n" % stats["made"])
        await asyncio.gather(*tasks, return_exceptions=True)
        for w in list(writers):
            w.close()

    asyncio.run(run())
    print("made %d closed %d bytes %d" % (stats["made"], stats["closed"], stats["bytes"]))


if __name__ == "__main__":
    main()
