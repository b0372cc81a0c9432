"""Serving with several processes, each accepting on a listening socket of its own.

``uvicorn --workers N`` binds one listening socket in the supervisor and every server
process accepts from it. Under load the kernel wakes whichever process is already
awake, so one process may accept nearly every keep-alive connection and serve it for
its whole life while the other idles: in a release rush one process once served 15,238
of 15,253 requests. With ``SO_REUSEPORT`` every process binds a socket of its own to
the same address and the kernel spreads new connections evenly over them (a hash of
the client's address and port).

uvicorn's supervisor is kept (it restarts a process that died or hangs and stops them
all on a signal); only where a server process gets its socket changes. A process that
is not listening yet receives no connections at all, so a restarted one joins the
spread once it is ready.
"""

from __future__ import annotations

import socket
from typing import Any

from uvicorn import Config
from uvicorn.supervisors import multiprocess


def reuse_port_supported() -> bool:
    """Whether this system spreads connections over sockets bound to one port."""
    return hasattr(socket, "SO_REUSEPORT")


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A listening socket of this process on ``host:port``, shared with the others."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


class _OwnSocketProcess(multiprocess.Process):
    """A server process that binds its own listening socket when it starts."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:
        own = listening_socket(self.config.host, self.config.port, self.config.backlog)
        super().target([own])


def run_processes(config: Config) -> None:
    """Run ``config.workers`` server processes under uvicorn's supervisor, each
    accepting on its own ``SO_REUSEPORT`` socket; returns when they have stopped."""
    # The supervisor builds its processes through this module-level name (at start,
    # and when it replaces one that died); the parent binds no socket at all.
    original: Any = multiprocess.Process
    multiprocess.Process = _OwnSocketProcess  # type: ignore[misc]
    try:
        multiprocess.Multiprocess(config, sockets=[]).run()
    finally:
        multiprocess.Process = original  # type: ignore[misc]
