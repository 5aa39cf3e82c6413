#ifndef SHIPMAIL_LMTP_H
#define SHIPMAIL_LMTP_H

/*
 * A minimal LMTP client (RFC 2033) for shipmail-fetch: one message from
 * a spool file to one recipient, then QUIT.  The message is sent as it
 * is (it arrives in canonical CRLF form), dot-stuffed, with a final
 * CRLF added if it lacks one.  The envelope sender is taken from a
 * leading Return-Path header when there is a clean one, else it is <>.
 * No pipelining, no TLS: the ship's Dovecot is local.
 *
 * A trace header line may be put before the message: shipmail-fetch
 * names the shore's copy in it, so that after a crash it can find out
 * whether a delivery whose reply it never read went through.
 */

#include <stddef.h>

enum lmtp_result {
	LMTP_OK = 0,
	LMTP_TEMPFAIL,		/* 4xx, or the server is unreachable */
	LMTP_PERMFAIL,		/* 5xx for the recipient or the message */
	LMTP_UNKNOWN,		/* the final dot went out, no reply came */
};

/*
 * target: "unix:/path", "inet:host:port", an absolute path or
 * "host:port".  timeout is per read or write, in seconds.  trace, when
 * not NULL, is one header line without its CRLF, sent first.
 */
enum lmtp_result lmtp_deliver(const char *target, const char *rcpt,
			      const char *path, const char *trace,
			      unsigned int timeout, char *error,
			      size_t error_size);

/* The envelope sender from a message's leading Return-Path, or "". */
void lmtp_sender_from_file(const char *path, char *buf, size_t size);

#endif
