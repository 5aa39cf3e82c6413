#!/usr/bin/python3
"""Helpers for bench/soak (and tests/soak-short.test).

  soak.py lmtp-tempfail SOCKET   an LMTP server on a unix socket that
                                 greets and then answers 451 to
                                 everything but LHLO and QUIT
  soak.py check SENT SHORE_DIR SHIP_DIR PENDING WANTED [LMTP_LOG]
                                 where every message ended up

check reads SENT (lines "seq user size": what the shore's LMTP accepted),
the Maildirs of both sites, PENDING (doveadm -f tab shipmail pending -A)
and WANTED (seqs of oversize mail an admin asked for).  Messages are
named by the sequence number in their Message-ID (tests/transfer/mail.py
make).  Every shore message must be on the ship exactly once, byte for
byte (the ship's LMTP may only prepend header lines), or still pending
on shore for a reason: oversize and not requested, or a user of another
ship.  It prints key=value counts (sent, on_shore, delivered, pending,
pending_<reason>, lost, duplicated, corrupt, stray, unacked) and one
line per problem starting with "problem:".  With LMTP_LOG (the ship's
Dovecot log) it also counts as dup_unclean the duplicates of which some
copy was saved by an LMTP session that did not end with QUIT: the
client was killed, or the server stopped, between the save and the
reply (see BUGS in shipmail-fetch(1)).
"""
import glob
import os
import re
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mail import only_headers  # noqa: E402  (mail.py beside this file)

MSGID = re.compile(rb"^Message-ID: <(\d+)\.[0-9a-f]+@shore\.example>",
                   re.M | re.I)


def lmtp_tempfail(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    os.chmod(path, 0o666)
    srv.listen(8)
    while True:
        conn, _ = srv.accept()
        try:
            conn.sendall(b"220 soak LMTP, refusing for now\r\n")
            for line in conn.makefile("rb"):
                verb = line[:4].upper()
                if verb == b"LHLO":
                    conn.sendall(b"250 soak\r\n")
                elif verb == b"QUIT":
                    conn.sendall(b"221 2.0.0 bye\r\n")
                    break
                else:
                    conn.sendall(b"451 4.3.0 soak: try again later\r\n")
        except OSError:
            pass
        conn.close()


def maildir(root):
    """[(user, seq or None, bytes)] of every message under root."""
    out = []
    for d in ("cur", "new"):
        for p in glob.glob(os.path.join(root, "**", "Maildir", d, "*"),
                           recursive=True):
            parts = p.split(os.sep)
            i = parts.index("Maildir")
            user = parts[i - 1] + "@" + parts[i - 2]
            with open(p, "rb") as f:
                data = f.read()
            m = MSGID.search(data.split(b"\n\n", 1)[0])
            out.append((user, int(m.group(1)) if m else None, data))
    return out


LMTP_LINE = re.compile(r"lmtp\((?:[^)]*\)<)?(\d+)[>)]")
SAVED = re.compile(r"msgid=<(\d+)\.[0-9a-f]+@shore\.example>: saved mail")
DISCONNECT = re.compile(r"Disconnect from local: (.*)")


def unclean_saves(log_path):
    """Seqs saved by an LMTP session that did not end with QUIT."""
    out, open_saves = set(), {}
    with open(log_path, errors="replace") as f:
        for line in f:
            m = LMTP_LINE.search(line)
            if not m:
                continue
            pid = m.group(1)
            s = SAVED.search(line)
            if s:
                open_saves.setdefault(pid, []).append(int(s.group(1)))
                continue
            d = DISCONNECT.search(line)
            if d:
                if not d.group(1).startswith("Logged out"):
                    out.update(open_saves.get(pid, []))
                open_saves.pop(pid, None)
    for saves in open_saves.values():	# the process died
        out.update(saves)
    return out


def check(sent_path, shore_dir, ship_dir, pending_path, wanted_path=None,
          lmtp_log=None):
    sent = {}
    with open(sent_path) as f:
        for line in f:
            seq, user, size = line.split()
            sent[int(seq)] = (user, int(size))
    wanted = set()
    if wanted_path and os.path.exists(wanted_path):
        with open(wanted_path) as f:
            wanted = {int(x) for x in f.read().split()}
    # doveadm -f tab: a header line, then username mailbox uidvalidity
    # uid size received flags handle from subject.
    pending = {}
    with open(pending_path) as f:
        rows = [r.rstrip("\n").split("\t") for r in f if r.strip()]
    for r in rows[1:]:
        seq = int(r[9].split()[-1]) if len(r) > 9 and r[9] else None
        pending[(r[0], seq)] = r[6]

    shore = maildir(shore_dir)
    ship = maildir(ship_dir)
    ship_by = {}
    for user, seq, data in ship:
        ship_by.setdefault((user, seq), []).append(data)

    c = dict(sent=len(sent), on_shore=len(shore), delivered=0, pending=0,
             lost=0, duplicated=0, dup_unclean=0, corrupt=0, stray=0,
             unacked=0)
    unclean = unclean_saves(lmtp_log) if lmtp_log else set()
    reasons = {}
    problems = []
    seen = set()
    for user, seq, data in shore:
        key = (user, seq)
        if seq is None or key in seen:
            problems.append("%s: shore message seq %s not unique" % key)
            continue
        seen.add(key)
        copies = ship_by.get(key, [])
        same = [s for s in copies if s.endswith(data) and
                only_headers(s[:len(s) - len(data)])]
        if len(copies) > len(same):
            c["corrupt"] += len(copies) - len(same)
            problems.append("%s seq %d: %d ship copies differ from shore"
                            % (user, seq, len(copies) - len(same)))
        flags = pending.get(key)
        if len(same) == 1:
            c["delivered"] += 1
            if flags is not None:
                c["unacked"] += 1
        elif len(same) > 1:
            c["duplicated"] += 1
            why = ""
            if seq in unclean:
                c["dup_unclean"] += 1
                why = " (an LMTP session that saved it ended without QUIT)"
            problems.append("%s seq %d: on the ship %d times%s"
                            % (user, seq, len(same), why))
        elif flags is None:
            c["lost"] += 1
            problems.append("%s seq %d: not on the ship, not pending"
                            % (user, seq))
        else:
            words = flags.replace(",", " ").split()
            oversize = "oversize" in words and "requested" not in words
            if "@ship1.example" not in user:
                reason = "other-ship"
            elif oversize and seq not in wanted:
                reason = "oversize-not-requested"
            else:
                reason = None
            if reason is None:
                c["lost"] += 1
                problems.append("%s seq %d: still pending (flags %s) "
                                "with no reason" % (user, seq, flags))
            else:
                c["pending"] += 1
                reasons[reason] = reasons.get(reason, 0) + 1
    for seq, (user, size) in sorted(sent.items()):
        if (user, seq) not in seen:
            c["lost"] += 1
            problems.append("%s seq %d: accepted by the shore's LMTP, "
                            "not in its mailbox" % (user, seq))
    for (user, seq), copies in ship_by.items():
        if (user, seq) not in seen:
            c["stray"] += len(copies)
            problems.append("%s seq %s: on the ship, not on shore"
                            % (user, seq))
    for k, v in c.items():
        print("%s=%d" % (k, v))
    for k, v in sorted(reasons.items()):
        print("pending_%s=%d" % (k, v))
    for p in problems:
        print("problem: " + p)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "lmtp-tempfail":
        lmtp_tempfail(sys.argv[2])
    elif len(sys.argv) >= 6 and sys.argv[1] == "check":
        check(*sys.argv[2:8])
    else:
        sys.exit(__doc__)
