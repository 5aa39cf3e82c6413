#!/usr/bin/python3
"""Look inside a shipmail-shore session compressed with zstd, without a
zstd library.

  zstd-blocks.py client 'REQUEST\\nREQUEST\\n'   print a client's side: its
                                             HELLO, then the requests in
                                             one raw (stored) zstd block
  zstd-blocks.py blocks FILE                 print the wire size of every
                                             block of the shore's stream
                                             in FILE (its stdout)

The shore flushes its stream by ending a block, so the block sizes are
the distances between its flushes.
"""
import struct
import sys

MAGIC = b"\x28\xb5\x2f\xfd"


def client(requests):
    body = requests.encode()
    header = struct.pack("<I", len(body) << 3)[:3]   # raw block, not last
    # Frame header: no content size, no checksum; window 1 MB.
    return b"HELLO 1 zstd\n" + MAGIC + b"\x00\x50" + header + body


def blocks(data):
    for _ in range(2):                      # the greeting, then HELLO
        data = data[data.index(b"\n") + 1:]
    if data[:4] != MAGIC:
        raise SystemExit("zstd-blocks.py: no zstd frame after HELLO")
    fhd = data[4]
    single, fcs, did = (fhd >> 5) & 1, fhd >> 6, fhd & 3
    pos = 5 + (0 if single else 1) + (0, 1, 2, 4)[did]
    pos += ((1 if single else 0), 2, 4, 8)[fcs]
    sizes = []
    while pos + 3 <= len(data):
        h = int.from_bytes(data[pos:pos + 3], "little")
        kind, size = (h >> 1) & 3, h >> 3
        n = 1 if kind == 1 else size        # an RLE block holds one byte
        sizes.append(3 + n)
        pos += 3 + n
        if h & 1:
            break
    return sizes


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "client":
        sys.stdout.buffer.write(client(sys.argv[2].replace("\\n", "\n")))
    elif len(sys.argv) == 3 and sys.argv[1] == "blocks":
        with open(sys.argv[2], "rb") as f:
            print(" ".join(str(n) for n in blocks(f.read())))
    else:
        raise SystemExit(__doc__)
