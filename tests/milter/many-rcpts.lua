-- shipmail-milter on shore: hundreds of recipients in one message.
dofile(helpers)
local conn = start()
local rcpts = {}
for i = 1, 300 do
	table.insert(rcpts, string.format("<crew%d@ship1.example>", i))
end
table.insert(rcpts, "<office@shore.example>")
local stage, reply = send(conn, { "<bob@example.org>" }, rcpts,
	{ { "Subject", "to everyone" } }, body_of(3000))
check(stage == "eom" and reply == SMFIR_CONTINUE,
	"mail to 301 recipients is accepted", reply)
check(is_handle(mt.getheader(conn, "X-Shipmail-Handle", 0)),
	"one handle header for the whole message")
check(mt.getheader(conn, "X-Shipmail-Handle", 1) == nil,
	"only one handle header")
mt.disconnect(conn)
