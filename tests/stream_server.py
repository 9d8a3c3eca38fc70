"""A network video stream on 127.0.0.1 for the tests: `python stream_server.py [options]` prints
its port on the first line of stdout, then serves until killed.

  /mjpeg  multipart/x-mixed-replace MJPEG (what IP cameras serve), endless unless --frames
  /ts     an MPEG-TS file given by --ts, sent once
Options: --fps F, --frames N (frames per connection, then the connection closes: a drop),
--exit-after N (the whole server exits after N frames in all: a stream that never comes back),
--silent (accept connections and never answer: a stream that never connects),
--stall-after N (after N frames the connection stays open and silent: a stalled stream).
Each frame shows its number as a bright bar at x = number (mod width), so a test can tell frames apart.
"""

from __future__ import annotations

import argparse
import http.server
import os
import socket
import sys
import threading
import time

import cv2
import numpy as np

WIDTH, HEIGHT = 96, 64


def frame_jpeg(n: int) -> bytes:
    image = np.full((HEIGHT, WIDTH, 3), 40, np.uint8)
    x = n % WIDTH
    image[:, x:x + 4] = 255
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return data.tobytes()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--frames", type=int, default=0, help="frames per connection (0: endless)")
    parser.add_argument("--exit-after", type=int, default=0, help="exit after this many frames in all")
    parser.add_argument("--ts", help="an MPEG-TS file to serve at /ts")
    parser.add_argument("--silent", action="store_true")
    parser.add_argument("--stall-after", type=int, default=0,
                        help="after this many frames a connection stays open and sends nothing more")
    args = parser.parse_args()
    sent = [0]
    lock = threading.Lock()

    if args.silent:
        server = socket.create_server(("127.0.0.1", 0))
        print(server.getsockname()[1], flush=True)
        held = []
        while True:
            held.append(server.accept()[0])  # never answer

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            if self.path.startswith("/ts") and args.ts:
                data = open(args.ts, "rb").read()
                self.send_response(200)
                self.send_header("Content-Type", "video/mp2t")
                self.end_headers()
                self.wfile.write(data)
                return
            if not self.path.startswith("/mjpeg"):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.end_headers()
            n = 0
            try:
                while not args.frames or n < args.frames:
                    with lock:
                        count = sent[0]
                        sent[0] += 1
                    jpeg = frame_jpeg(count)
                    self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\n"
                                     + f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                    self.wfile.flush()
                    n += 1
                    if args.exit_after and count + 1 >= args.exit_after:
                        os._exit(0)
                    if args.stall_after and n >= args.stall_after:
                        while True:  # a stalled stream: connected, silent
                            time.sleep(1)
                    time.sleep(1.0 / args.fps)
            except (BrokenPipeError, ConnectionResetError):
                pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
