#!/usr/bin/python3
"""Mail helpers for the transfer tests.

  mail.py make SEED SIZE TO              print a realistic-looking message
                                         of about SIZE bytes plus its header
  mail.py lmtp SOCKET FILE RCPT [...]    deliver FILE to each RCPT over LMTP
  mail.py smtp PORT FILE FROM RCPT [...] send FILE, byte for byte, over SMTP
                                         to 127.0.0.1:PORT
  mail.py compare SHORE_DIR SHIP_DIR     check that every shore message
                                         arrived once, byte for byte
  mail.py sent SENT_DIR MAIL_DIR         check that every file
                                         SENT_DIR/<rcpt>/<name> is in rcpt's
                                         Maildir under MAIL_DIR once, with
                                         the sender <name>'s first part

compare reads Maildir files (Dovecot stores LF line ends).  A ship
message matches a shore message when it ends with exactly its bytes and
what comes before is only header lines that the ship's LMTP prepended.
It prints one line per problem and exits non-zero if there is any.
"""
import base64
import glob
import os
import random
import smtplib
import sys


def make(seed, size, to):
    rnd = random.Random(seed)
    words = ("ship port cargo weather report engine crew watch supply "
             "fuel harbour chart position wind swell noon fix radio "
             "bunker pilot anchor mooring agent eta customs").split()
    office = seed % 13
    date = "%s, %02d Dec 2026 %02d:%02d:%02d +0000" % (
        ("Mon", "Tue", "Wed", "Thu", "Fri")[seed % 5], seed % 28 + 1,
        seed % 24, seed % 60, (seed * 7) % 60)
    sig = base64.b64encode(rnd.randbytes(256)).decode()
    bh = base64.b64encode(rnd.randbytes(32)).decode()
    qid = "%08X" % rnd.getrandbits(32)
    lines = [
        "Received: from mx%d.shore.example (mx%d.shore.example "
        "[192.0.2.%d])" % (seed % 7, seed % 7, seed % 250),
        "\tby mail.shore.example (Postfix) with ESMTPS id %s" % qid,
        "\tfor <%s>; %s" % (to, date),
        "Received: from relay%d.office.example (relay%d.office.example "
        "[198.51.100.%d])" % (seed % 3, seed % 3, seed % 250),
        "\tby mx%d.shore.example (Postfix) with ESMTPS id %08X" %
        (seed % 7, rnd.getrandbits(32)),
        "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
        "\t key-exchange X25519 server-signature RSA-PSS (2048 bits))",
        "\t(No client certificate requested); %s" % date,
        "Authentication-Results: mail.shore.example; dkim=pass "
        "header.d=shore.example header.s=s1 header.b=%s;" % sig[:8],
        "\tspf=pass smtp.mailfrom=office%d@shore.example" % office,
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; "
        "d=shore.example; s=s1;",
        "\tt=%d; h=from:to:subject:date:message-id:mime-version:"
        "content-type;" % (1796000000 + seed),
        "\tbh=%s;" % bh,
        "\tb=" + sig[:70],
    ]
    lines += ["\t " + sig[i:i + 72] for i in range(70, len(sig), 72)]
    lines += [
        "From: Office %d <office%d@shore.example>" % (office, office),
        "To: <%s>" % to,
        "Subject: %s %s %d" % (rnd.choice(words), rnd.choice(words), seed),
        "Date: " + date,
        "Message-ID: <%d.%08x@shore.example>" % (seed, rnd.getrandbits(32)),
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b%d"' % seed,
        "",
        "--b%d" % seed,
        'Content-Type: multipart/alternative; boundary="a%d"' % seed,
        "",
        "--a%d" % seed,
        "Content-Type: text/plain; charset=utf-8",
        "",
    ]
    # The text twice, as most mail programs send it: plain, then HTML.
    body = []
    while sum(len(x) + 1 for x in body) < size * 0.3:
        body.append(" ".join(rnd.choice(words) for _ in range(11)))
    lines += body
    lines += ["", "--a%d" % seed,
              "Content-Type: text/html; charset=utf-8", "",
              "<html><head><meta http-equiv=\"Content-Type\" "
              "content=\"text/html; charset=utf-8\"></head>",
              "<body style=\"font-family: Arial, sans-serif; "
              "font-size: 11pt;\">"]
    lines += ["<p>%s</p>" % x for x in body]
    lines += ["</body></html>", "", "--a%d--" % seed, "",
              "--b%d" % seed,
              "Content-Type: application/octet-stream; name=\"a.bin\"",
              "Content-Disposition: attachment; filename=\"a.bin\"",
              "Content-Transfer-Encoding: base64", ""]
    blob = base64.b64encode(rnd.randbytes(max(1, int(size * 0.3)))).decode()
    lines += [blob[i:i + 76] for i in range(0, len(blob), 76)]
    # A line that must be dot-stuffed on the way through LMTP.
    lines += ["", ".", "..leading dots", "--b%d--" % seed, ""]
    sys.stdout.write("\r\n".join(lines))


def lmtp(socket, path, rcpts):
    with open(path, "rb") as f:
        data = f.read()
    conn = smtplib.LMTP(socket)
    refused = conn.sendmail("sender@shore.example", rcpts, data)
    conn.quit()
    if refused:
        sys.exit("refused: %r" % refused)


def smtp(port, path, sender, rcpts):
    # smtplib sends the bytes as they are (swaks adds a line end of its
    # own before the dot, which a byte-for-byte check then finds).
    with open(path, "rb") as f:
        data = f.read()
    conn = smtplib.SMTP("127.0.0.1", int(port))
    refused = conn.sendmail(sender, rcpts, data)
    conn.quit()
    if refused:
        sys.exit("refused: %r" % refused)


def maildir_files(root):
    return sorted(glob.glob(os.path.join(root, "**", "Maildir", "cur", "*"),
                            recursive=True) +
                  glob.glob(os.path.join(root, "**", "Maildir", "new", "*"),
                            recursive=True))


def only_headers(prefix):
    if prefix == b"":
        return True
    if not prefix.endswith(b"\n") or b"\n\n" in prefix:
        return False
    return all(line and (line[:1] in b" \t" or b":" in line)
               for line in prefix[:-1].split(b"\n"))


def owner(path):
    # .../mail/<domain>/<user>/Maildir/...
    parts = path.split(os.sep)
    i = parts.index("Maildir")
    return parts[i - 1] + "@" + parts[i - 2]


def compare(shore_dir, ship_dir):
    shore = [(owner(p), open(p, "rb").read()) for p in maildir_files(shore_dir)]
    ship = [(owner(p), open(p, "rb").read()) for p in maildir_files(ship_dir)]
    problems = 0
    used = [False] * len(ship)
    for user, data in shore:
        hits = [i for i, (u, s) in enumerate(ship)
                if u == user and s.endswith(data)
                and only_headers(s[:len(s) - len(data)])]
        if len(hits) != 1:
            problems += 1
            print("%s: a shore message of %d bytes is on the ship %d times"
                  % (user, len(data), len(hits)))
        for i in hits:
            used[i] = True
    for i, (user, data) in enumerate(ship):
        if not used[i]:
            problems += 1
            print("%s: a ship message of %d bytes matches nothing on shore"
                  % (user, len(data)))
    print("shore=%d ship=%d problems=%d" % (len(shore), len(ship), problems))
    sys.exit(1 if problems else 0)


def sent(sent_dir, mail_dir):
    """Outbound mail: each sent file once in its recipient's mailbox."""
    stored = [(owner(p), open(p, "rb").read()) for p in maildir_files(mail_dir)]
    problems = 0
    expected = {}
    for rcpt in sorted(os.listdir(sent_dir)):
        for name in sorted(os.listdir(os.path.join(sent_dir, rcpt))):
            data = open(os.path.join(sent_dir, rcpt, name), "rb").read()
            data = data.replace(b"\r\n", b"\n")
            sender = name.split(",")[0]
            expected[rcpt] = expected.get(rcpt, 0) + 1
            hits = [s for u, s in stored if u == rcpt and s.endswith(data)
                    and only_headers(s[:len(s) - len(data)])]
            if len(hits) != 1:
                problems += 1
                print("%s: a message from %s is there %d times"
                      % (rcpt, sender, len(hits)))
                continue
            if b"Return-Path: <%s>" % sender.encode() not in hits[0][:2048]:
                problems += 1
                print("%s: the message from %s has another envelope sender"
                      % (rcpt, sender))
    for rcpt, n in expected.items():
        have = sum(1 for u, _ in stored if u == rcpt)
        if have != n:
            problems += 1
            print("%s: %d messages, %d sent" % (rcpt, have, n))
    print("sent=%d problems=%d" % (sum(expected.values()), problems))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif cmd == "lmtp":
        lmtp(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif cmd == "smtp":
        smtp(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    elif cmd == "sent":
        sent(sys.argv[2], sys.argv[3])
    elif cmd == "compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
