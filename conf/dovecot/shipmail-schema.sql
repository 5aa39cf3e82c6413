-- The shipmail pending index: one row per message waiting on shore.
--
-- Written by Dovecot's dict service (through shipmail-dict-sql.conf.ext),
-- read by doveadm shipmail and shipmail-shore.  The same table serves
-- SQLite (one shore server) and PostgreSQL (a cluster of Dovecot
-- backends sharing one index).  The row's value is one line encoded as
-- common/pending.h describes; the key fields are kept apart so that one
-- user's rows are found through the primary key.
--
--   sqlite3 /var/lib/shipmail/pending.db < shipmail-schema.sql
--   psql -d shipmail -f shipmail-schema.sql

CREATE TABLE IF NOT EXISTS shipmail_pending (
  -- the user name, percent-encoded as in the dict key
  username VARCHAR(800) NOT NULL,
  -- 32 lower-case hex digits
  mailbox_guid CHAR(32) NOT NULL,
  uid BIGINT NOT NULL,
  -- "1<TAB>uidvalidity<TAB>size<TAB>received<TAB>flags<TAB>handle..."
  entry TEXT NOT NULL,
  PRIMARY KEY (username, mailbox_guid, uid)
);

-- On the ship: the crew's requests for held mail, waiting for
-- shipmail-fetch to hand them to the shore (common/request.h), and each
-- user's count of requests of the day, for the daily limit.  Running
-- this file again on an existing database adds them.

CREATE TABLE IF NOT EXISTS shipmail_request (
  -- the user name, percent-encoded as in the dict key
  username VARCHAR(800) NOT NULL,
  -- 20 characters of lower-case base32
  handle CHAR(20) NOT NULL,
  -- "1<TAB>requested<TAB>state<TAB>origin"
  request TEXT NOT NULL,
  PRIMARY KEY (username, handle)
);

CREATE TABLE IF NOT EXISTS shipmail_request_count (
  username VARCHAR(800) NOT NULL PRIMARY KEY,
  -- "1<TAB>day<TAB>count"
  counter TEXT NOT NULL
);
