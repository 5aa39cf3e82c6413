-- Helpers for the milter's miltertest scripts.  Each check prints one
-- line, "check ok WHAT" or "check fail WHAT: DETAIL", which the calling
-- .test turns into TAP.  Globals from miltertest -D: milter, conf, sock.

function check(cond, what, detail)
	if cond then
		print("check ok " .. what)
	else
		print("check fail " .. what .. ": " .. tostring(detail))
	end
end

-- Start the milter under test and connect to it.
function start(extra)
	local args = { milter, "-f", "-v", "-c", conf }
	for _, a in ipairs(extra or {}) do table.insert(args, a) end
	mt.startfilter(table.unpack(args))
	local conn = mt.connect(sock, 50, 0.2)
	if conn == nil then error("cannot connect to " .. sock) end
	mt.set_timeout(60)
	return conn
end

-- Send a whole message; headers is a list of { name, value }.
function send(conn, from, rcpts, headers, body, qid)
	local r = mt.mailfrom(conn, table.unpack(from))
	if r ~= nil then error("mailfrom: " .. r) end
	if mt.getreply(conn) ~= SMFIR_CONTINUE then
		return "mailfrom", mt.getreply(conn)
	end
	for i, rcpt in ipairs(rcpts) do
		if qid ~= nil then mt.macro(conn, SMFIC_RCPT, "i", qid) end
		r = mt.rcptto(conn, rcpt)
		if r ~= nil then error("rcptto: " .. r) end
		if mt.getreply(conn) ~= SMFIR_CONTINUE then
			return "rcpt", mt.getreply(conn)
		end
	end
	for _, h in ipairs(headers) do
		r = mt.header(conn, h[1], h[2])
		if r ~= nil then error("header: " .. r) end
	end
	r = mt.eoh(conn)
	if r ~= nil then error("eoh: " .. r) end
	if #body > 0 then
		r = mt.bodystring(conn, body)
		if r ~= nil then error("body: " .. r) end
	end
	r = mt.eom(conn)
	if r ~= nil then error("eom: " .. r) end
	return "eom", mt.getreply(conn)
end

function is_handle(h)
	return h ~= nil and #h == 20 and string.match(h, "^[a-z2-7]+$") ~= nil
end

-- A body of n bytes in lines of 76 characters and CRLF, as Postfix
-- hands it over.
function body_of(n)
	local line = string.rep("x", 76) .. "\r\n"
	local s = string.rep(line, n // #line)
	return s .. string.rep("y", n - #s)
end
