"""Lua scripts that change a job's records atomically in Redis.

Several workers update one job at once (one task per document), and a cancel may arrive
while they do. Each script reads and writes one job's keys in one step, so no update is
lost and a document that reached a final state (done, failed, cancelled) never leaves it:
a late or duplicate delivery of its task can no longer change it.

Keys: ``KEYS[1]`` the job hash, ``KEYS[2]`` its documents hash (doc_id -> JSON),
``KEYS[3]`` the set of its documents not yet final, ``KEYS[4]`` the set of its documents in
progress (parsing, embedding, indexing: what a dead worker may have left). They share the job's
hash tag (``state.keys``), so a Redis Cluster runs the scripts too; a script touches no key it is
not given (a cluster forbids it). The set of open jobs, a key of its own slot, is updated by
``jobs.store`` after a script closed a job.

``CLAIM_JOB`` hands an in-process job whose runner died to a new runner: two servers starting
at once must not both run it.
"""

from __future__ import annotations

# ARGV: doc_id, new state, JSON of other changed fields, now, "1" when the new state is final.
# Returns 0: refused (the document is already final, or the job expired); 1: moved; 2: moved and
# it closed the job: ``done``, ``partial`` (some documents failed), ``failed`` (all of them did) or
# ``cancelled``.
MOVE_DOCUMENT = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local raw = redis.call('HGET', KEYS[2], ARGV[1])
local doc
if raw then
  doc = cjson.decode(raw)
else
  doc = {doc_id = ARGV[1], name = ARGV[1], chunks = 0}
end
if doc.state == 'done' or doc.state == 'failed' or doc.state == 'cancelled' then
  return 0
end
doc.state = ARGV[2]
for k, v in pairs(cjson.decode(ARGV[3])) do
  doc[k] = v
end
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(doc))
redis.call('HSET', KEYS[1], 'updated_at', ARGV[4])
if ARGV[2] == 'parsing' or ARGV[2] == 'embedding' or ARGV[2] == 'indexing' then
  redis.call('SADD', KEYS[4], ARGV[1])
  redis.call('EXPIRE', KEYS[4], redis.call('TTL', KEYS[1]))
else
  redis.call('SREM', KEYS[4], ARGV[1])
end
local job_state = redis.call('HGET', KEYS[1], 'state')
if ARGV[5] ~= '1' then
  if job_state == 'queued' then
    redis.call('HSET', KEYS[1], 'state', 'running')
  end
  return 1
end
if redis.call('SREM', KEYS[3], ARGV[1]) == 1 and redis.call('SCARD', KEYS[3]) == 0 then
  if job_state == 'queued' or job_state == 'running' then
    local final = 'done'
    if redis.call('HGET', KEYS[1], 'cancel') == '1' then
      final = 'cancelled'
    else
      local failed, total = 0, 0
      for _, raw_doc in ipairs(redis.call('HVALS', KEYS[2])) do
        total = total + 1
        if cjson.decode(raw_doc).state == 'failed' then
          failed = failed + 1
        end
      end
      if failed > 0 and failed == total then
        final = 'failed'
        redis.call('HSET', KEYS[1], 'error_code', 'every_document_failed',
                   'error', 'every document of the job failed; each one says why')
      elseif failed > 0 then
        final = 'partial'
      end
    end
    redis.call('HSET', KEYS[1], 'state', final)
  end
  return 2
end
return 1
"""

# ARGV: now. Marks the cancel flag and every still-queued document cancelled; documents in
# progress finish (their chunks stay consistent). Returns how many documents it cancelled,
# or -1 when the job does not exist.
CANCEL_JOB = """
local job_state = redis.call('HGET', KEYS[1], 'state')
if not job_state then
  return -1
end
if job_state ~= 'queued' and job_state ~= 'running' then
  return 0
end
redis.call('HSET', KEYS[1], 'cancel', 1, 'updated_at', ARGV[1])
local all = redis.call('HGETALL', KEYS[2])
local cancelled = 0
for i = 1, #all, 2 do
  local doc = cjson.decode(all[i + 1])
  if doc.state == 'queued' then
    doc.state = 'cancelled'
    doc.reason = 'the job was cancelled'
    redis.call('HSET', KEYS[2], all[i], cjson.encode(doc))
    redis.call('SREM', KEYS[3], all[i])
    cancelled = cancelled + 1
  end
end
if redis.call('SCARD', KEYS[3]) == 0 then
  redis.call('HSET', KEYS[1], 'state', 'cancelled')
end
return cancelled
"""

# KEYS[1]: the job hash. ARGV: the claiming owner, the owner the claimant found gone (its lease lapsed;
# "" for a job recorded without one). Returns the job's spec (JSON) when the job is an open in-process
# job still owned by that gone owner, after making the claimant its owner; false otherwise (another
# runner claimed it first, or it ended). The lease itself is read before, by ``JobStore.claim``: it is a
# key of another slot, and whoever claims first changes the owner, so a second claimant finds it moved.
CLAIM_JOB = """
local meta = redis.call('HMGET', KEYS[1], 'runner', 'state', 'owner', 'spec')
if meta[1] ~= 'inprocess' or (meta[2] ~= 'queued' and meta[2] ~= 'running') or not meta[4] then
  return false
end
if (meta[3] or '') ~= ARGV[2] then
  return false
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1])
return meta[4]
"""
