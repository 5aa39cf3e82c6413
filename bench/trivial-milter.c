/*
 * trivial-milter: a pass-through libmilter filter for bench/milter.
 *
 * It sees every step of every message (envelope, each header, the body)
 * and answers "continue" to each, changing nothing: what it costs is
 * what libmilter and the milter protocol cost.  It negotiates nothing,
 * so the MTA waits for a reply to each header and body chunk, as with
 * most milters.  Not for production use.
 *
 *   trivial-milter -s SOCKET     (inet:PORT@127.0.0.1 or unix:/path)
 */
#include <libmilter/mfapi.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static sfsistat
pass_argv(SMFICTX *ctx, char **argv)
{
	return SMFIS_CONTINUE;
}

static sfsistat
pass_header(SMFICTX *ctx, char *name, char *value)
{
	return SMFIS_CONTINUE;
}

static sfsistat
pass_body(SMFICTX *ctx, unsigned char *data, size_t len)
{
	return SMFIS_CONTINUE;
}

static sfsistat
pass(SMFICTX *ctx)
{
	return SMFIS_CONTINUE;
}

static struct smfiDesc trivial_desc = {
	.xxfi_name = "trivial-milter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = 0,
	.xxfi_envfrom = pass_argv,
	.xxfi_envrcpt = pass_argv,
	.xxfi_header = pass_header,
	.xxfi_eoh = pass,
	.xxfi_body = pass_body,
	.xxfi_eom = pass,
	.xxfi_abort = pass,
	.xxfi_close = pass,
};

int
main(int argc, char **argv)
{
	int opt;
	char *socket = NULL;

	while ((opt = getopt(argc, argv, "s:")) != -1) {
		if (opt != 's') {
			fprintf(stderr, "usage: trivial-milter -s SOCKET\n");
			return 64;
		}
		socket = optarg;
	}
	if (socket == NULL || smfi_setconn(socket) != MI_SUCCESS ||
	    smfi_register(trivial_desc) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "trivial-milter: cannot listen on %s\n",
			socket != NULL ? socket : "(none)");
		return 69;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 70;
}
