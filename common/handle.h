#ifndef SHIPMAIL_HANDLE_H
#define SHIPMAIL_HANDLE_H

/*
 * Handles name a message that is held on shore because it is too large
 * for the link.  The milter puts one in the message's header; the
 * pending index records it; a crew member or an admin asks for the
 * message by it (doveadm shipmail request, shipmail-fetch request).
 *
 * A handle is 20 characters of the RFC 4648 base32 alphabet in lower
 * case (a-z, 2-7): 100 random bits, unguessable, easy to read aloud or
 * retype from a notice, and safe in a header, a dict key and a
 * command line.
 */

#include <stddef.h>

#define SHIPMAIL_HANDLE_HEADER	"X-Shipmail-Handle"
#define SHIPMAIL_HANDLE_LEN	20

/* Fill buf (SHIPMAIL_HANDLE_LEN + 1 bytes) with a new random handle.
   Returns 0, or -1 with errno set if the system has no randomness. */
int handle_generate(char buf[SHIPMAIL_HANDLE_LEN + 1]);

/* Non-zero when str (len bytes) is a well-formed handle. */
int handle_is_valid(const char *str, size_t len);

#endif
