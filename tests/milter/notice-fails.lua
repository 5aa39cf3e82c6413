-- shipmail-milter with a notice command that fails: the configured
-- milter_notice_failure decides (tempfail or accept).  Globals: want
-- (tempfail, accept or hold-tempfail).
dofile(helpers)
local conn = start()
local rcpt = "<alice@ship1.example>"
if want == "hold-tempfail" then rcpt = "<dave@shore.example>" end
local stage, reply = send(conn, { "<bob@example.org>" }, { rcpt },
	{ { "Subject", "big" } }, body_of(3000))
if want == "tempfail" then
	check(stage == "eom" and reply == SMFIR_REPLYCODE and
		mt.eom_check(conn, MT_SMTPREPLY, "451", "4.3.0",
		"shipmail: cannot send the oversize notice now, try again later"),
		"failed notice: the mail is deferred with 451 4.3.0", reply)
elseif want == "hold-tempfail" then
	check(stage == "eom" and reply == SMFIR_REPLYCODE and
		mt.eom_check(conn, MT_SMTPREPLY, "451", "4.3.0",
		"shipmail: cannot send the hold notice now, try again later"),
		"failed hold notice: the mail is deferred with 451 4.3.0", reply)
else
	check(stage == "eom" and reply == SMFIR_CONTINUE and
		is_handle(mt.getheader(conn, "X-Shipmail-Handle", 0)),
		"failed notice: the mail is still accepted with its handle",
		reply)
end
mt.disconnect(conn)
