-- shipmail-milter on shore, through miltertest: oversize handling per
-- recipient, notices, several messages per session, odd input.
dofile(helpers)
local conn = start()

-- 1. Small mail to the ship passes untouched.
local stage, reply = send(conn, { "<bob@example.org>", "SIZE=500" },
	{ "<alice@ship1.example>" },
	{ { "From", "Bob <bob@example.org>" }, { "Subject", "hi" } },
	"small\r\n")
check(stage == "eom" and reply == SMFIR_CONTINUE,
	"small mail to a ship recipient is accepted", stage)
check(not mt.eom_check(conn, MT_HDRADD),
	"small mail gets no header")

-- 2. Oversize for alice (2k), under the limit for chief (1M).
stage, reply = send(conn, { "<bob@example.org>" },
	{ "<alice@ship1.example>", "<chief@ship1.example>",
	  "<office@shore.example>" },
	{ { "From", "=?UTF-8?Q?Bj=C3=B6rn?= <bob@example.org>" },
	  { "Subject", "=?iso-8859-1?q?Rapport_d=E9taill=E9?=" },
	  { "Date", "Tue, 1 Dec 2026 10:00:00 +0100" } },
	body_of(5000), "QSHORE2")
check(stage == "eom" and reply == SMFIR_CONTINUE,
	"oversize mail is accepted (kept on shore)", reply)
local h = mt.getheader(conn, "X-Shipmail-Handle", 0)
check(is_handle(h), "oversize mail gets a well-formed handle header", h)
print("handle2 " .. tostring(h))

-- 3. Same session, next message: small again, no header (state reset).
stage, reply = send(conn, { "<carol@example.org>" },
	{ "<alice@ship1.example>" }, { { "Subject", "tiny" } }, "x\r\n")
check(reply == SMFIR_CONTINUE and not mt.eom_check(conn, MT_HDRADD),
	"next message of the session starts from zero", reply)

-- 4. An aborted message, then oversize mail without From/Subject/Date.
mt.mailfrom(conn, "<dave@example.org>")
mt.rcptto(conn, "<alice@ship1.example>")
mt.abort(conn)
stage, reply = send(conn, { "<dave@example.org>" },
	{ "<captain@shore.example>", "<alice@ship1.example>" }, {},
	body_of(3000))
check(reply == SMFIR_CONTINUE and
	is_handle(mt.getheader(conn, "X-Shipmail-Handle", 0)),
	"oversize mail without From, Subject, Date gets a handle", reply)

-- 5. Auto-submitted oversize mail: kept on shore, but no notice.
stage, reply = send(conn, { "<>" }, { "<alice@ship1.example>" },
	{ { "From", "MAILER-DAEMON@example.org" },
	  { "Auto-Submitted", "auto-replied" } }, body_of(4000))
check(reply == SMFIR_CONTINUE and
	is_handle(mt.getheader(conn, "X-Shipmail-Handle", 0)),
	"auto-submitted oversize mail still gets a handle", reply)

-- 6. Malformed and 8-bit headers, a huge header block, an odd charset.
-- (miltertest itself overflows on one header of a few KB: single huge
-- headers are tested through Postfix.)
local headers = {
	{ "From", "\"Caf\xe9\" <eve@example.org>" },
	{ "Subject", "=?koi8-r?B?0NLJ18XU?= =?utf-8?q?=0D=0ABcc:_x?= =?bad" },
	{ "Date", "not a date \1\2" },
	{ "X-Broken", "" },
	{ "X-Folded", "a\n\tb\r\n c" } }
for i = 1, 70 do
	table.insert(headers, { "X-Filler-" .. i, string.rep("h", 900) })
end
stage, reply = send(conn, { "<eve@example.org>" },
	{ "<alice@ship1.example>" }, headers, "x\r\n")
check(reply == SMFIR_CONTINUE and
	is_handle(mt.getheader(conn, "X-Shipmail-Handle", 0)),
	"a 63 KB header block alone makes mail oversize; odd headers survive",
	reply)

-- 7. sendmail-style: empty sender, no SIZE=, bare address.
stage, reply = send(conn, { "" }, { "alice@ship1.example" },
	{ { "Subject", "cron" } }, body_of(2100))
check(reply == SMFIR_CONTINUE and
	is_handle(mt.getheader(conn, "X-Shipmail-Handle", 0)),
	"sendmail-injected oversize mail (no SIZE=, empty sender)", reply)

-- 8. A handle header that comes with the mail is removed, whatever the
-- size: only the milter names held mail.
stage, reply = send(conn, { "<mallory@example.org>" },
	{ "<alice@ship1.example>" },
	{ { "Subject", "small, with a handle of its own" },
	  { "X-Shipmail-Handle", "aaaaaaaaaaaaaaaaaaaa" } }, "x\r\n",
	"QFORGED")
check(reply == SMFIR_CONTINUE and
	mt.eom_check(conn, MT_HDRDELETE, "X-Shipmail-Handle") and
	not mt.eom_check(conn, MT_HDRADD),
	"a handle header the mail brings is removed", reply)

mt.disconnect(conn)
