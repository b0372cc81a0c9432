"""A small RTSP server for probing cameras without cameras: GStreamer's RTSP server
(Debian's gir1.2-gst-rtsp-server-1.0 and python3-gi) serving test mount points.

    /usr/bin/python3 deploy/rtsp_test_server.py --port 8554 --mounts good,frozen
    /usr/bin/python3 deploy/rtsp_test_server.py --port 8554 --count 6000

Mount names decide the picture: ``good...`` is live snow (every frame differs),
``frozen...`` a black still picture (every frame the same), ``--count N`` serves
``/cam0`` .. ``/cam{N-1}`` (good); ``--shared`` serves every mount of a kind from one
pipeline, so thousands of mounts cost one encoder (the benchmark). Motion JPEG,
160x120, 5 frames a second, decodable by ffmpeg. Prints ``READY <port>`` once it listens.
"""

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

CAPS = "video/x-raw,format=I420,width=160,height=120,framerate=5/1"
PIPELINES = {
    # The ball's place follows the wall clock, so two clients never see the same frame.
    "good": "videotestsrc is-live=true pattern=ball animation-mode=wall-time "
    f"! {CAPS} ! jpegenc quality=30 ! rtpjpegpay name=pay0 pt=26",
    "frozen": f"videotestsrc is-live=true pattern=black ! {CAPS} ! jpegenc quality=30 "
    "! rtpjpegpay name=pay0 pt=26",
}


class SharedFactory(GstRtspServer.RTSPMediaFactory):
    """One pipeline for every mount of a kind: thousands of mounts cost one encoder."""

    def do_gen_key(self, url):  # a GObject virtual method: one key, one shared media
        return self.kind

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind


def factory(kind: str, shared: bool) -> GstRtspServer.RTSPMediaFactory:
    made = SharedFactory(kind) if shared else GstRtspServer.RTSPMediaFactory()
    made.set_launch(f"( {PIPELINES[kind]} )")
    made.set_shared(shared)
    return made


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--mounts", default="good,frozen")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument(
        "--shared", action="store_true", help="one pipeline per kind for all mounts (benchmark)"
    )
    args = parser.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    names = [m for m in args.mounts.split(",") if m] if not args.count else []
    names += [f"cam{i}" for i in range(args.count)]
    made: dict[str, GstRtspServer.RTSPMediaFactory] = {}
    for name in names:
        kind = "frozen" if name.startswith("frozen") else "good"
        if kind not in made or not args.shared:
            made[kind] = factory(kind, args.shared)
        mounts.add_factory(f"/{name}", made[kind])
    if server.attach(None) == 0:
        print(f"cannot listen on {args.address}:{args.port}", file=sys.stderr, flush=True)
        return 1
    print(f"READY {server.get_bound_port()}", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
