#!/usr/bin/env python3
"""An LMTP proxy that goes mute after the message.

    lmtp-mute.py LISTEN_SOCKET REAL_SOCKET

Forwards every connection to the real LMTP server, but once the client
has sent the final dot of a message, nothing more from the server
reaches the client: the message is stored, the client never learns it.
"""
import os
import socket
import sys
import threading


def serve(client, real_path):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.connect(real_path)
    muted = threading.Event()

    def down():
        while True:
            data = server.recv(65536)
            if not data:
                break
            if not muted.is_set():
                client.sendall(data)

    threading.Thread(target=down, daemon=True).start()
    tail = b""
    while True:
        data = client.recv(65536)
        if not data:
            break
        server.sendall(data)
        tail = (tail + data)[-5:]
        if tail == b"\r\n.\r\n":
            muted.set()
    server.close()
    client.close()


def main():
    listen_path, real_path = sys.argv[1], sys.argv[2]
    if os.path.exists(listen_path):
        os.unlink(listen_path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(listen_path)
    os.chmod(listen_path, 0o777)
    sock.listen(8)
    while True:
        client, _ = sock.accept()
        threading.Thread(target=serve, args=(client, real_path),
                         daemon=True).start()


if __name__ == "__main__":
    main()
