#!/usr/bin/env python3
"""An LMTP proxy that goes mute after the message.

    lmtp-mute.py LISTEN_SOCKET REAL_SOCKET [--lose]

Forwards every connection to the real LMTP server, but once the client
has sent the final dot of a message, nothing more from the server
reaches the client: the message is stored, the client never learns it.
With --lose the message itself goes nowhere either: after the server's
answer to DATA, the client's bytes are swallowed, so the server never
sees the final dot and stores nothing, and the client hears nothing.
"""
import os
import socket
import sys
import threading


def serve(client, real_path, lose):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.connect(real_path)
    muted = threading.Event()
    in_data = threading.Event()

    def down():
        while True:
            data = server.recv(65536)
            if not data:
                break
            # Before the 354 reaches the client: its message must not
            # slip through to the server.
            if lose and b"354 " in data:
                in_data.set()
            if not muted.is_set():
                client.sendall(data)
            if in_data.is_set():
                muted.set()

    threading.Thread(target=down, daemon=True).start()
    tail = b""
    while True:
        data = client.recv(65536)
        if not data:
            break
        if in_data.is_set():
            continue
        server.sendall(data)
        tail = (tail + data)[-5:]
        if tail == b"\r\n.\r\n":
            muted.set()
    server.close()
    client.close()


def main():
    listen_path, real_path = sys.argv[1], sys.argv[2]
    lose = sys.argv[3:] == ["--lose"]
    if os.path.exists(listen_path):
        os.unlink(listen_path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(listen_path)
    os.chmod(listen_path, 0o777)
    sock.listen(8)
    while True:
        client, _ = sock.accept()
        threading.Thread(target=serve, args=(client, real_path, lose),
                         daemon=True).start()


if __name__ == "__main__":
    main()
