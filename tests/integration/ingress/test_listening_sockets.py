"""One listening socket per ingress worker on one port: the kernel spreads connections."""

from __future__ import annotations

import socket

from processor.ingress.server import listening_sockets


def _accepted(sock: socket.socket) -> int:
    """Accept whatever is queued on ``sock``; return how many connections."""
    sock.setblocking(False)
    count = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


class TestListeningSockets:
    def test_one_port_for_all_and_connections_spread(self) -> None:
        """Port 0 gives every socket the same free port; 64 connections reach both sockets."""
        sockets = listening_sockets("127.0.0.1", 0, 2)
        clients: list[socket.socket] = []
        try:
            ports = {sock.getsockname()[1] for sock in sockets}
            assert len(ports) == 1
            port = ports.pop()
            assert all(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for s in sockets)
            for _ in range(64):
                clients.append(socket.create_connection(("127.0.0.1", port)))
            counts = [_accepted(sock) for sock in sockets]
        finally:
            for each in [*clients, *sockets]:
                each.close()
        assert sum(counts) == 64
        # A hash of the address pair: ~32 each; 64/0 (one shared socket's burst) never.
        assert min(counts) >= 8, counts

    def test_a_closed_socket_gets_no_more_connections(self) -> None:
        """A worker that is gone (its socket closed) is no longer sent connections."""
        first, second = listening_sockets("127.0.0.1", 0, 2)
        port = first.getsockname()[1]
        second.close()
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
        try:
            assert _accepted(first) == 16
        finally:
            for each in [*clients, first]:
                each.close()
