-- shipmail-milter on the ship, hold policy: quarantine and a notice to
-- the sender; none for the null sender.
dofile(helpers)
local conn = start()
local stage, reply = send(conn, { "<alice@ship1.example>", "SIZE=99999" },
	{ "<bob@shore.example>" },
	{ { "From", "Alice <alice@ship1.example>" }, { "Subject", "film" } },
	body_of(5000), "QHOLD1")
check(stage == "eom" and reply == SMFIR_CONTINUE,
	"hold policy: SIZE= does not refuse, end of data accepts", stage)
check(mt.eom_check(conn, MT_QUARANTINE),
	"over the limit: the message goes to the hold queue")

stage, reply = send(conn, { "<>" }, { "<bob@shore.example>" },
	{ { "Subject", "bounce" } }, body_of(5000), "QHOLD2")
check(reply == SMFIR_CONTINUE and mt.eom_check(conn, MT_QUARANTINE),
	"null sender: held too", reply)

stage, reply = send(conn, { "<alice@ship1.example>" },
	{ "<bob@shore.example>" }, {}, "x\r\n", "QHOLD3")
check(reply == SMFIR_CONTINUE and not mt.eom_check(conn, MT_QUARANTINE),
	"small mail is not held", reply)
mt.disconnect(conn)
