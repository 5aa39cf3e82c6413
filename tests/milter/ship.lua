-- shipmail-milter on the ship, reject policy: SIZE= refused at RCPT TO
-- for recipients off the ship, the counted size refused at end of data.
dofile(helpers)
local conn = start()
local text = "Message too big for the ship's satellite link: " ..
	"size 4 KB, limit 2 KB"

local stage, reply = send(conn, { "<alice@ship1.example>", "SIZE=99999" },
	{ "<bob@shore.example>" }, {}, "x\r\n")
check(stage == "rcpt" and reply == SMFIR_REPLYCODE,
	"SIZE= over the limit: the off-ship recipient is refused at RCPT",
	stage .. " " .. tostring(reply))
mt.abort(conn)

stage, reply = send(conn, { "<alice@ship1.example>", "SIZE=99999" },
	{ "<cook@ship1.example>" }, {}, body_of(4096))
check(stage == "eom" and reply == SMFIR_CONTINUE,
	"big mail between crew members on board is not limited", reply)

stage, reply = send(conn, { "<alice@ship1.example>" },
	{ "<cook@ship1.example>", "<bob@shore.example>" },
	{ { "Subject", "photos" } }, body_of(4096))
check(stage == "eom" and reply == SMFIR_REPLYCODE and
	mt.eom_check(conn, MT_SMTPREPLY, "552", "5.3.4", text),
	"no SIZE=: rejected at end of data with 552 5.3.4 and the sizes",
	reply)

stage, reply = send(conn, { "<captain@ship1.example>", "SIZE=4000" },
	{ "<bob@shore.example>" }, {}, body_of(4000))
check(stage == "eom" and reply == SMFIR_CONTINUE,
	"a sender with a larger own limit gets through", reply)

stage, reply = send(conn, { "<alice@ship1.example>", "SIZE=100" },
	{ "<bob@shore.example>" }, {}, body_of(1000))
check(stage == "eom" and reply == SMFIR_CONTINUE,
	"small mail ashore passes", reply)
mt.disconnect(conn)
