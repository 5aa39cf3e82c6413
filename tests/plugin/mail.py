#!/usr/bin/env python3
"""Mail clients for the plugin's tests: LMTP delivery and IMAP commands.

  mail.py lmtp PORT FROM RCPT[,RCPT...] FILE     deliver FILE over LMTP;
                                                 prints one status per rcpt
  mail.py lmtp-many PORT COUNT RCPTFILE FILE    COUNT deliveries on one
                                                 connection, one recipient
                                                 each; prints messages/s
  mail.py imap PORT USER PASSWORD COMMAND...     run IMAP commands in
                                                 order, e.g. 'append INBOX
                                                 FILE [FLAGS]', 'select
                                                 INBOX', 'copy 1:* Other',
                                                 'move 1 Other', 'store 1
                                                 +FLAGS ($Shipped)',
                                                 'expunge', 'create X',
                                                 'delete X', 'rename A B'
Exit status 0 when every step succeeded, 1 otherwise.
"""
import imaplib
import socket
import sys


def lmtp_reply(f):
    """One (possibly multi-line) reply: its code."""
    while True:
        line = f.readline().decode('utf-8', 'replace')
        if not line:
            raise OSError('LMTP server closed the connection')
        if line[3:4] != '-':
            return int(line[:3]), line.strip()


def lmtp(port, sender, rcpts, path):
    """smtplib reads one reply to DATA; LMTP sends one per recipient."""
    with open(path, 'rb') as f:
        data = f.read()
    data = data.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
    data = b'\r\n'.join(b'.' + l if l.startswith(b'.') else l
                         for l in data.split(b'\r\n'))
    if not data.endswith(b'\r\n'):
        data += b'\r\n'
    sock = socket.create_connection(('127.0.0.1', int(port)))
    f = sock.makefile('rb')
    ok = lmtp_reply(f)[0] == 220
    accepted = 0
    for command in ['LHLO test.example', 'MAIL FROM:<%s>' % sender]:
        sock.sendall(command.encode() + b'\r\n')
        ok = ok and lmtp_reply(f)[0] == 250
    for rcpt in rcpts.split(','):
        sock.sendall(b'RCPT TO:<' + rcpt.encode() + b'>\r\n')
        code, text = lmtp_reply(f)
        if code == 250:
            accepted += 1
        else:
            print(rcpt, text)
            ok = False
    if accepted > 0:
        sock.sendall(b'DATA\r\n')
        ok = ok and lmtp_reply(f)[0] == 354
        sock.sendall(data + b'.\r\n')
        for _ in range(accepted):
            code, text = lmtp_reply(f)
            if code != 250:
                print(text)
                ok = False
    sock.sendall(b'QUIT\r\n')
    sock.close()
    return ok


def lmtp_many(port, count, rcpts_path, path):
    """Deliver count messages on one connection, one recipient each,
    cycling through the addresses in rcpts_path; print messages/s."""
    import time
    with open(path, 'rb') as f:
        data = f.read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
    with open(rcpts_path) as f:
        rcpts = [line.strip() for line in f if line.strip()]
    sock = socket.create_connection(('127.0.0.1', int(port)))
    f = sock.makefile('rb')
    ok = lmtp_reply(f)[0] == 220
    sock.sendall(b'LHLO bench.example\r\n')
    ok = ok and lmtp_reply(f)[0] == 250
    start = time.monotonic()
    for i in range(int(count)):
        rcpt = rcpts[i % len(rcpts)]
        sock.sendall(b'MAIL FROM:<bench@shore.example>\r\nRCPT TO:<' +
                     rcpt.encode() + b'>\r\nDATA\r\n')
        ok = ok and lmtp_reply(f)[0] == 250 and lmtp_reply(f)[0] == 250 \
            and lmtp_reply(f)[0] == 354
        sock.sendall(data + b'.\r\n')
        ok = ok and lmtp_reply(f)[0] == 250
    elapsed = time.monotonic() - start
    sock.sendall(b'QUIT\r\n')
    sock.close()
    print('%.1f' % (int(count) / elapsed))
    return ok


def imap(port, user, password, commands):
    conn = imaplib.IMAP4('127.0.0.1', int(port))
    conn.login(user, password)
    ok = True
    for command in commands:
        words = command.split(' ')
        verb = words[0].lower()
        if verb == 'append':
            with open(words[2], 'rb') as f:
                flags = ' '.join(words[3:]) or None
                typ, _ = conn.append(words[1], flags, None, f.read())
        elif verb == 'select':
            typ, _ = conn.select(words[1])
        elif verb in ('copy', 'move'):
            typ, _ = conn.uid(verb.upper(), words[1], words[2])
        elif verb == 'store':
            typ, _ = conn.uid('STORE', words[1], words[2], ' '.join(words[3:]))
        elif verb == 'expunge':
            typ, _ = conn.expunge()
        elif verb == 'create':
            typ, _ = conn.create(words[1])
        elif verb == 'delete':
            typ, _ = conn.delete(words[1])
        elif verb == 'rename':
            typ, _ = conn.rename(words[1], words[2])
        else:
            print('unknown command:', command)
            typ = 'BAD'
        if typ != 'OK':
            print('failed:', command, typ)
            ok = False
    conn.logout()
    return ok


def main(argv):
    if len(argv) >= 5 and argv[1] == 'lmtp':
        return lmtp(argv[2], argv[3], argv[4], argv[5])
    if len(argv) >= 6 and argv[1] == 'lmtp-many':
        return lmtp_many(argv[2], argv[3], argv[4], argv[5])
    if len(argv) >= 5 and argv[1] == 'imap':
        return imap(argv[2], argv[3], argv[4], argv[5:])
    print(__doc__)
    return False


if __name__ == '__main__':
    sys.exit(0 if main(sys.argv) else 1)
