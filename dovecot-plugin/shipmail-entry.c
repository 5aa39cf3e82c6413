/*
 * One message's pending entry, read through lib-storage (see
 * shipmail-entry.h).  Nothing here touches the dict.
 *
 * The size is the virtual size (CRLF line ends, what IMAP calls
 * RFC822.SIZE and what went over SMTP), so that the oversize mark
 * agrees with the milter's view of the same message whatever the
 * mailbox format stores.
 */
#include "lib.h"
#include "guid.h"
#include "mail-storage.h"
#include "common/handle.h"
#include "shipmail-settings.h"
#include "shipmail-text.h"
#include "shipmail-entry.h"

const char *const shipmail_entry_headers[] = {
	"From", "Subject", SHIPMAIL_HANDLE_HEADER, NULL
};

int shipmail_mailbox_guid(struct mailbox *box, const char **guid_r,
			  const char **error_r)
{
	struct mailbox_metadata metadata;

	if (mailbox_get_metadata(box, MAILBOX_METADATA_GUID, &metadata) < 0) {
		*error_r = t_strdup_printf("mailbox %s: no GUID: %s",
			mailbox_get_vname(box),
			mailbox_get_last_internal_error(box, NULL));
		return -1;
	}
	*guid_r = guid_128_to_string(metadata.guid);
	return 0;
}

bool shipmail_mail_is_shipped(struct mail *mail, const char *keyword)
{
	const char *const *keywords = mail_get_keywords(mail);

	for (; *keywords != NULL; keywords++) {
		if (strcasecmp(*keywords, keyword) == 0)
			return TRUE;
	}
	return FALSE;
}

/* A decoded header on one line, "" when it is missing or unreadable:
   a bad header must not keep a message out of the index. */
static const char *shipmail_entry_header(struct mail *mail, const char *name)
{
	const char *value;

	if (mail_get_first_header_utf8(mail, name, &value) <= 0)
		return "";
	return shipmail_text_one_line(value);
}

static const char *shipmail_entry_handle(struct mail *mail)
{
	const char *value, *handle;

	if (mail_get_first_header(mail, SHIPMAIL_HANDLE_HEADER, &value) <= 0)
		return "";
	handle = shipmail_text_handle(value);
	return handle == NULL ? "" : handle;
}

int shipmail_entry_fill(struct mail *mail, const struct shipmail_settings *set,
			struct pending_entry *entry, const char **error_r)
{
	uoff_t size;
	time_t received;

	if (mail_get_virtual_size(mail, &size) < 0 ||
	    mail_get_received_date(mail, &received) < 0) {
		*error_r = t_strdup_printf("cannot read the message: %s",
			mailbox_get_last_internal_error(mail->box, NULL));
		return -1;
	}

	entry->size = size;
	entry->received = received;
	entry->flags = 0;
	if (set->max_size > 0 && size > set->max_size)
		entry->flags |= PENDING_FLAG_OVERSIZE;
	entry->handle = shipmail_entry_handle(mail);
	entry->mailbox = mailbox_get_vname(mail->box);
	entry->from = shipmail_entry_header(mail, "From");
	entry->subject = shipmail_entry_header(mail, "Subject");
	return 0;
}
