"""Lua scripts of the Redis backend; each runs atomically on the server.

Every key a script touches shares the caller's hash tag, so each script stays in one
Redis Cluster slot. Index and reference keys named inside a script are derived from
keys passed in, for the same reason. Time comes from the server (`TIME`), so replicas
with skewed clocks agree on deadlines.
"""

from __future__ import annotations

NOW_MS = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""

# KEYS: entity, members, expiry, refs, index keys...
# ARGV: member, value, expiry mode, ttl ms, cas flag, expected, entity prefix, indexed flag, unique flags...
# Returns {1} written, {0, current} value differs from expected, {-1} absent,
# {2, index key, owner} unique conflict.
PUT = (
    NOW_MS
    + """
local key, members, expiry, refs = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local member, value, mode, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if ARGV[5] == '1' then
  local current = redis.call('GET', key)
  if not current then return {-1} end
  if current ~= ARGV[6] then return {0, current} end
end
local nidx = #KEYS - 4
for i = 1, nidx do
  if ARGV[8 + i] == '1' then
    for _, owner in ipairs(redis.call('SMEMBERS', KEYS[4 + i])) do
      if owner ~= member then
        if redis.call('EXISTS', ARGV[7] .. owner) == 1 then return {2, KEYS[4 + i], owner} end
        redis.call('SREM', KEYS[4 + i], owner)
      end
    end
  end
end
if ARGV[8] == '1' then
  local wanted = {}
  for i = 1, nidx do wanted[KEYS[4 + i]] = true end
  for _, idx in ipairs(redis.call('SMEMBERS', refs)) do
    if not wanted[idx] then redis.call('SREM', idx, member) end
  end
  redis.call('DEL', refs)
  for i = 1, nidx do
    redis.call('SADD', KEYS[4 + i], member)
    redis.call('SADD', refs, KEYS[4 + i])
  end
end
if mode == 'keep' then
  redis.call('SET', key, value, 'KEEPTTL')
elseif mode == 'native' then
  redis.call('SET', key, value, 'PX', ttl)
else
  redis.call('SET', key, value)
end
redis.call('SADD', members, member)
if mode == 'none' then
  redis.call('ZREM', expiry, member)
elseif mode ~= 'keep' then
  redis.call('ZADD', expiry, now_ms() + ttl, member)
end
return {1}
"""
)

# The common case of PUT (no indexes, no ttl, no compare): KEYS entity, members, expiry; ARGV member, value.
PUT_PLAIN = """
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return {1}
"""

# KEYS: entity, members, expiry, refs.  ARGV: member.  Returns 1 when this call deleted the value.
REMOVE = """
local removed = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
for _, idx in ipairs(redis.call('SMEMBERS', KEYS[4])) do redis.call('SREM', idx, ARGV[1]) end
redis.call('DEL', KEYS[4])
return removed
"""

_FORGET = """
local function forget(member)
  redis.call('ZREM', KEYS[1], member)
  redis.call('SREM', KEYS[2], member)
  local refs = ARGV[3] .. member
  for _, idx in ipairs(redis.call('SMEMBERS', refs)) do redis.call('SREM', idx, member) end
  redis.call('DEL', refs)
end
"""

# KEYS: expiry, members.  ARGV: limit, entity prefix, refs prefix.
# Claims due entries: returns a flat {member, value, ...} and deletes them, so each goes to one caller.
POP_EXPIRED = (
    NOW_MS
    + _FORGET
    + """
local out = {}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[1]))
for _, member in ipairs(due) do
  local key = ARGV[2] .. member
  local value = redis.call('GET', key)
  if value then
    out[#out + 1] = member
    out[#out + 1] = value
    redis.call('DEL', key)
  end
  forget(member)
end
return out
"""
)

# KEYS: expiry, members.  ARGV: limit, entity prefix, refs prefix.
# Forgets due members whose value the server already dropped (native ttl), then counts.
COUNT = (
    NOW_MS
    + _FORGET
    + """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[1]))
for _, member in ipairs(due) do
  if redis.call('EXISTS', ARGV[2] .. member) == 0 then forget(member) end
end
return redis.call('SCARD', KEYS[2])
"""
)

# KEYS: index set.  ARGV: entity prefix.  Members whose entry is gone are dropped from the index.
LOOKUP = """
local out = {}
for _, member in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', ARGV[1] .. member) == 1 then out[#out + 1] = member
  else redis.call('SREM', KEYS[1], member) end
end
return out
"""

# KEYS: counter.  ARGV: floor (start - 1).  Raises a missing or low counter to the floor, never lowers it.
RAISE_COUNTER = """
local current = redis.call('GET', KEYS[1])
if not current or tonumber(current) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""

# KEYS: keys to set.  ARGV: value, ttl ms ('' for none).  Returns how many were set.
SET_MANY = """
for _, key in ipairs(KEYS) do
  if ARGV[2] == '' then
    redis.call('SET', key, ARGV[1])
  else
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
  end
end
return #KEYS
"""

# KEYS: lease, fence.  ARGV: token, ttl ms.  Returns the fencing token, or nil when held.
LOCK_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return redis.call('INCR', KEYS[2]) end
return false
"""

LOCK_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

LOCK_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

# KEYS: entity.  ARGV: field, delta, min or '', max or ''.
# Rewrites only the digits of one top-level integer field, leaving the rest of the JSON
# byte-for-byte as it was (cjson would turn [] into {} and round big integers).
INCR_FIELD = """
local value = redis.call('GET', KEYS[1])
if not value then return false end
local name = '"' .. ARGV[1] .. '"'
local depth, i, n = 0, 1, #value
while i <= n do
  local c = string.sub(value, i, i)
  if c == '{' or c == '[' then depth = depth + 1
  elseif c == '}' or c == ']' then depth = depth - 1
  elseif c == '"' then
    if depth == 1 and string.sub(value, i, i + #name - 1) == name then
      local _, colon = string.find(value, '^%s*:%s*', i + #name)
      if colon then
        local s, e = string.find(value, '^%-?%d+', colon + 1)
        local after = string.sub(value, (e or colon) + 1, (e or colon) + 1)
        if not s or after == '.' or after == 'e' or after == 'E' then
          return redis.error_reply('field ' .. ARGV[1] .. ' is not an integer')
        end
        local new = tonumber(string.sub(value, s, e)) + tonumber(ARGV[2])
        if ARGV[3] ~= '' and new < tonumber(ARGV[3]) then new = tonumber(ARGV[3]) end
        if ARGV[4] ~= '' and new > tonumber(ARGV[4]) then new = tonumber(ARGV[4]) end
        local text = string.format('%d', new)
        redis.call('SET', KEYS[1], string.sub(value, 1, s - 1) .. text .. string.sub(value, e + 1), 'KEEPTTL')
        return text
      end
    end
    i = i + 1
    while i <= n do
      local d = string.sub(value, i, i)
      if d == '\\\\' then i = i + 1 elseif d == '"' then break end
      i = i + 1
    end
  end
  i = i + 1
end
return redis.error_reply('field ' .. ARGV[1] .. ' is missing')
"""
