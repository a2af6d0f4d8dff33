/**
 * The Lua scripts that keep the chat's Redis state consistent: each runs
 * atomically, so an id, its history entry and its publication happen
 * together, and every instance sees a room's messages in id order. Plain
 * EVAL/EVALSHA only (Redis 7 or Valkey 7+); keys are built from the prefix
 * in ARGV[1], so the layout must match redis_keys.ts.
 *
 * @module
 */
import { RedisScript } from "./redis_connection.ts";

// Shared helpers, prepended to every script.
const LIB = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local p = ARGV[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function room_name(room)
  local j = redis.call('HGET', p .. 'rooms', room)
  if j then
    local ok, r = pcall(cjson.decode, j)
    if ok and type(r) == 'table' and type(r.name) == 'string' then return r.name end
  end
  return room
end
-- Hashes of names listed in pages keep a sorted set of their keys beside
-- them (all of score 0, so in byte order) to page through by name key.
local function listed_set(hash, key, value)
  redis.call('HSET', p .. hash, key, value)
  redis.call('ZADD', p .. hash .. ':keys', 0, key)
end
local function listed_del(hash, key)
  redis.call('HDEL', p .. hash, key)
  redis.call('ZREM', p .. hash .. ':keys', key)
end
-- {total, names...}: at most limit names of hash, after key after ('' from the start).
local function listed_page(hash, after, limit)
  local start = '-'
  if after ~= '' then start = '(' .. after end
  local out = {redis.call('HLEN', p .. hash)}
  if limit <= 0 then return out end
  local keys = redis.call('ZRANGEBYLEX', p .. hash .. ':keys', start, '+', 'LIMIT', 0, limit)
  if #keys == 0 then return out end
  for _, name in ipairs(redis.call('HMGET', p .. hash, unpack(keys))) do
    if name then out[#out + 1] = name end
  end
  return out
end
local function set_size(room)
  local size = redis.call('HLEN', p .. 'members:' .. room)
  if size == 0 then redis.call('HDEL', p .. 'roomsizes', room)
  else redis.call('HSET', p .. 'roomsizes', room, size) end
  return size
end
-- Whether an account owns the room (JSON settings): else it expires once empty for long.
local function account_owned(j)
  local ok, r = pcall(cjson.decode, j)
  if not ok or type(r) ~= 'table' or type(r.owner) ~= 'string' then return false end
  return string.sub(r.owner, 1, 6) ~= 'guest:'
end
-- Notes when a room became empty, so a room no account owns can expire.
local function note_if_empty(room)
  if set_size(room) == 0 then
    local j = redis.call('HGET', p .. 'rooms', room)
    if j and not account_owned(j) then
      redis.call('ZADD', p .. 'emptyrooms', now_ms(), room)
    end
  end
end
-- Takes count sessions of user out of room; returns the nick when it was the user's last.
local function member_sub(room, user, count)
  local n = redis.call('HINCRBY', p .. 'msess:' .. room, user, -count)
  if n > 0 then return false end
  redis.call('HDEL', p .. 'msess:' .. room, user)
  redis.call('SREM', p .. 'urooms:' .. user, room)
  local nick = redis.call('HGET', p .. 'members:' .. room, user)
  listed_del('members:' .. room, user)
  return nick or user
end
-- Adds count sessions of user to room; true when the user was not in it before.
local function member_add(room, user, nick, count)
  local n = redis.call('HINCRBY', p .. 'msess:' .. room, user, count)
  redis.call('SADD', p .. 'urooms:' .. user, room)
  listed_set('members:' .. room, user, nick)
  set_size(room)
  redis.call('ZREM', p .. 'emptyrooms', room)
  return n == count
end
local function user_sub(user, count)
  local u = p .. 'user:' .. user
  if redis.call('HINCRBY', u, 'n', -count) <= 0 then
    local look = redis.call('HGET', u, 'look')
    if look and redis.call('HGET', p .. 'looks', look) == user then
      redis.call('HDEL', p .. 'looks', look)
    end
    redis.call('DEL', u)
    listed_del('online', user)
  end
end
-- The nick of the user online (not user, nor also) whose name looks like look (UTS #39), if any.
local function look_holder(look, user, also)
  if look == '' then return nil end
  local holder = redis.call('HGET', p .. 'looks', look)
  if not holder or holder == user or holder == also then return nil end
  local nick = redis.call('HGET', p .. 'user:' .. holder, 'nick')
  if not nick then
    redis.call('HDEL', p .. 'looks', look)
    return nil
  end
  return nick
end
local function look_set(look, user)
  if look ~= '' then redis.call('HSET', p .. 'looks', look, user) end
end
local function room_event(room, kind, nick, reason, origin)
  local event = {type = kind, room = room_name(room), nick = nick, ts = now_ms(), reason = reason}
  return cjson.encode({o = origin, to = {room = room}, event = event})
end
-- Forgets the connection counts instance inst published.
local function clear_connections(inst)
  local ii = p .. 'inst:' .. inst .. ':ips'
  for _, ip in ipairs(redis.call('SMEMBERS', ii)) do
    redis.call('HDEL', p .. 'connip:' .. ip, inst)
    redis.call('HDEL', p .. 'hsip:' .. ip, inst)
  end
  redis.call('DEL', ii)
  redis.call('HDEL', p .. 'conns', inst)
end
-- Removes all that instance inst holds, announcing leaves with reason.
local function reap(inst, reason)
  local ik = p .. 'inst:' .. inst .. ':rooms'
  local rooms = redis.call('HGETALL', ik)
  for i = 1, #rooms, 2 do
    local sep = string.find(rooms[i], ':', 1, true)
    local room, user = string.sub(rooms[i], 1, sep - 1), string.sub(rooms[i], sep + 1)
    local count = tonumber(rooms[i + 1])
    if count > 0 then
      local nick = member_sub(room, user, count)
      if nick then
        redis.call('PUBLISH', p .. 'ch:room:' .. room, room_event(room, 'leave', nick, reason, inst))
        note_if_empty(room)
      end
    end
  end
  redis.call('DEL', ik)
  local iu = p .. 'inst:' .. inst .. ':users'
  local users = redis.call('HGETALL', iu)
  for i = 1, #users, 2 do
    local count = tonumber(users[i + 1])
    if count > 0 then user_sub(users[i], count) end
  end
  redis.call('DEL', iu)
  clear_connections(inst)
  redis.call('ZREM', p .. 'instances', inst)
end
local function raise(key, field, value)
  local current = tonumber(redis.call('HGET', key, field) or '0')
  if value > current then redis.call('HSET', key, field, value) end
end
-- reply: the id it answers (0 or nil: none); sender: the sender's key, which
-- message changes check authorship by (section 21); file: the file info's JSON
-- ('' or nil for none; section 23); fileref maps the file's id to the message
-- that shares it ('room:id', or 'dm'), for retention.
local function store_message(room, id, from, body, ts, action, reply, sender, file)
  local entry = {'f', from, 'b', body, 't', ts, 'a', action}
  if sender and sender ~= '' then
    entry[#entry + 1] = 's'
    entry[#entry + 1] = sender
  end
  if reply and tonumber(reply) and tonumber(reply) > 0 then
    entry[#entry + 1] = 'r'
    entry[#entry + 1] = reply
  end
  if file and file ~= '' then
    entry[#entry + 1] = 'F'
    entry[#entry + 1] = file
  end
  redis.call('XADD', p .. 'log:' .. room, id .. '-0', unpack(entry))
  if file and file ~= '' then
    redis.call('HSET', p .. 'fileref', cjson.decode(file).id, room .. ':' .. id)
  end
end
-- Message changes (section 21). A change c: {k = kind, g = target id, f = who (nick),
-- u = user key, x = text (edit) or emoji, t = ts, n = most emoji per message,
-- o = 1 when its maker may delete others' messages}.
-- Its entry goes to the stream chg:<room>; the message's current state is a JSON
-- hash field mst:<room> <id>: {e = edit ts, b = edited body, d = {by, ts}, r = [[emoji,
-- [[user key, nick]...]]...]} (emoji in the order first given, users earliest first).
local function message_exists(room, id)
  return #redis.call('XRANGE', p .. 'log:' .. room, id .. '-0', id .. '-0') > 0
end
-- Whether user (a key) wrote message id of room: its sender key, or for a
-- message stored before keys were (no 's'), its nickname as sent.
local function message_by(room, id, user, nick)
  local e = redis.call('XRANGE', p .. 'log:' .. room, id .. '-0', id .. '-0')[1]
  if not e then return false end
  local f = {}
  for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
  if f.s then return f.s == user end
  return f.f == nick
end
local function message_state(room, id)
  local j = redis.call('HGET', p .. 'mst:' .. room, id)
  if j then return cjson.decode(j) end
  return {}
end
-- 0 to apply, 1 no such message, 2 deleted, 3 changes nothing, 4 one emoji too many,
-- 5 not the author's (an edit; a deletion without the right).
local function check_change(room, c)
  if not message_exists(room, c.g) then return 1 end
  local s = message_state(room, c.g)
  if s.d then return 2 end
  if c.k == 'edit' or (c.k == 'delete' and c.o ~= 1) then
    if not message_by(room, c.g, c.u, c.f) then return 5 end
    return 0
  end
  if c.k ~= 'react' and c.k ~= 'unreact' then return 0 end
  local found, kinds, has = nil, 0, false
  for _, r in ipairs(s.r or {}) do
    kinds = kinds + 1
    if r[1] == c.x then found = r end
  end
  if found then
    for _, u in ipairs(found[2]) do if u[1] == c.u then has = true end end
  end
  if c.k == 'react' then
    if has then return 3 end
    if not found and kinds >= c.n then return 4 end
    return 0
  end
  if has then return 0 end
  return 3
end
local function apply_change(room, id, c)
  redis.call('XADD', p .. 'chg:' .. room, id .. '-0', 'k', c.k, 'g', c.g, 'f', c.f, 'x', c.x,
    't', c.t)
  local s = message_state(room, c.g)
  if c.k == 'edit' then
    s.e = tonumber(c.t)
    s.b = c.x
  elseif c.k == 'delete' then
    s = {d = {by = c.f, ts = tonumber(c.t)}}
  elseif c.k == 'react' then
    s.r = s.r or {}
    local found = nil
    for _, r in ipairs(s.r) do if r[1] == c.x then found = r end end
    if not found then
      found = {c.x, {}}
      s.r[#s.r + 1] = found
    end
    found[2][#found[2] + 1] = {c.u, c.f}
  elseif c.k == 'unreact' then
    local kept = {}
    for _, r in ipairs(s.r or {}) do
      if r[1] == c.x then
        local users = {}
        for _, u in ipairs(r[2]) do if u[1] ~= c.u then users[#users + 1] = u end end
        if #users > 0 then kept[#kept + 1] = {r[1], users} end
      else
        kept[#kept + 1] = r
      end
    end
    s.r = kept
  end
  redis.call('HSET', p .. 'mst:' .. room, c.g, cjson.encode(s))
end
-- Client message ids of a sender: msgid:<sender> maps 'r:<room>:<id>' or
-- 'd:<peer>:<id>' to 'message-id ts' (and '#' to the sender's count so far),
-- msgidt:<sender> orders the same members by that count: the order they came
-- in. w: {ms = window, n = most per sender}.
local function msg_id_entry(v)
  local sep = string.find(v, ' ', 1, true)
  return tonumber(string.sub(v, 1, sep - 1)), tonumber(string.sub(v, sep + 1))
end
-- The message id a sender's earlier message under member has, if remembered at ts.
local function recall_msg_id(sender, member, ts, w)
  local v = redis.call('HGET', p .. 'msgid:' .. sender, member)
  if not v then return nil end
  local id, at = msg_id_entry(v)
  if at < ts - w.ms then return nil end
  return id
end
-- Remembers member as message id sent at ts, forgetting the oldest while
-- there are more than w.n or they are older than the window; both keys
-- expire with the window.
local function remember_msg_id(sender, member, id, ts, w)
  local z, h = p .. 'msgidt:' .. sender, p .. 'msgid:' .. sender
  redis.call('ZADD', z, redis.call('HINCRBY', h, '#', 1), member)
  redis.call('HSET', h, member, id .. ' ' .. ts)
  local count = redis.call('ZCARD', z)
  while count > 0 do
    local oldest = redis.call('ZRANGE', z, 0, 0)[1]
    local v = redis.call('HGET', h, oldest)
    local at = v and select(2, msg_id_entry(v))
    if count <= w.n and at and at >= ts - w.ms then break end
    redis.call('ZREM', z, oldest)
    redis.call('HDEL', h, oldest)
    count = count - 1
  end
  redis.call('PEXPIRE', z, w.ms)
  redis.call('PEXPIRE', h, w.ms)
end
-- A room message's [body, ts, action] by id, or nil once it is gone.
local function message_fields(room, id)
  local e = redis.call('XRANGE', p .. 'log:' .. room, id .. '-0', id .. '-0')[1]
  if not e then return nil end
  local f = {}
  for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
  return {f.b, tonumber(f.t), f.a}
end
-- Deletes the files shared in room (section 23) with the room: a room made anew
-- under its name must not read them. Contents no file uses any more are noted
-- in unusedblobs, for retention to delete (the blob store checks filesha again).
local function drop_room_files(room)
  local index = p .. 'roomfiles:' .. room
  for _, id in ipairs(redis.call('SMEMBERS', index)) do
    local j = redis.call('HGET', p .. 'files', id)
    if j then
      local f = cjson.decode(j)
      redis.call('HDEL', p .. 'files', id)
      redis.call('ZREM', p .. 'filesby:' .. f.uploader, id .. ':' .. f.size)
      redis.call('SREM', p .. 'filesha:' .. f.sha256, id)
      if redis.call('SCARD', p .. 'filesha:' .. f.sha256) == 0 then
        redis.call('SADD', p .. 'unusedblobs', f.sha256)
      end
    end
    redis.call('HDEL', p .. 'fileref', id)
  end
  redis.call('DEL', index)
end
-- d: {from, to, fromKey, toKey, pair, body, ts, action}; returns the DM as JSON.
local function store_dm(id, d, delivered)
  local fields = {id = id, from = d.from, to = d.to, body = d.body, ts = tonumber(d.ts),
    action = d.action}
  if d.file and d.file ~= '' then
    fields.file = cjson.decode(d.file)
    redis.call('HSET', p .. 'fileref', fields.file.id, 'dm')
  end
  local record = cjson.encode(fields)
  redis.call('HSET', p .. 'dm', id, record)
  redis.call('ZADD', p .. 'dmpair:' .. d.pair, id, id)
  if not delivered then redis.call('ZADD', p .. 'dmpending:' .. d.toKey, id, id) end
  redis.call('ZADD', p .. 'dmin:' .. d.toKey .. ':' .. d.fromKey, id, id)
  redis.call('HSET', p .. 'dmpeers:' .. d.toKey, d.fromKey, d.from)
  return record
end
`;

function script(body: string): RedisScript {
  return new RedisScript(LIB + body);
}

/**
 * Sends a batch of room messages and DMs. ARGV: prefix, origin instance,
 * JSON `{r: [[room, token, [[from, body, ts, action, sender, clientMsgId, replyTo]...]]...],
 * d: [dm...], w: {ms, n}}`; clientMsgId is '' for none, and a DM carries
 * one too. A message whose sender already sent one under its client message
 * id within the window `w` (see remember_msg_id) is not stored again: it is
 * a duplicate when body and action match, a conflict when not. Each room's
 * new messages get the next ids, go to its stream and are published on its
 * channel as one payload (none when all were retries); each new DM gets the
 * next DM id, is stored, and published on the shared channel. Returns, per
 * message, its id, status (0 new, 1 duplicate, 2 conflict, 3 a reply to no
 * message of the room) and ts (the
 * first message's for a retry); per DM the same, then whether its recipient
 * was online. A room's items may also be message changes (section 21), JSON
 * objects `{k, g, f, u, x, t, n}` (see check_change): each is checked
 * against its target's state and, unless refused or changing nothing, gets
 * the room's next id in its place among the messages and is published in
 * the same payload's `c`; its status is 10 + check_change's (10: applied).
 */
export const SEND = script(`
local origin = ARGV[2]
local batch = cjson.decode(ARGV[3])
local w = batch.w
local out = {}
local function emit(id, status, ts)
  out[#out + 1] = id
  out[#out + 1] = status
  out[#out + 1] = ts
end
for _, group in ipairs(batch.r) do
  local room, token, messages = group[1], group[2], group[3]
  local published = {}
  local changed = {}
  for _, m in ipairs(messages) do
    if m.k then
      -- A message change (section 21): checked here, atomically with its id.
      local status = check_change(room, m)
      if status == 0 then
        local id = redis.call('HINCRBY', p .. 'seq', room, 1)
        apply_change(room, id, m)
        changed[#changed + 1] = {id, m.k, m.g, m.f, m.x, m.t}
        emit(id, 10, tonumber(m.t))
      else
        emit(0, 10 + status, tonumber(m.t))
      end
    else
    local sender, key, ts = m[5], m[6], tonumber(m[3])
    local member = 'r:' .. room .. ':' .. key
    local earlier = key ~= '' and recall_msg_id(sender, member, ts, w)
    local fields = earlier and message_fields(room, earlier)
    if fields and fields[1] == m[2] and fields[3] == m[4] then
      emit(earlier, 1, fields[2])
    elseif fields then
      emit(earlier, 2, fields[2])
    elseif tonumber(m[7]) and tonumber(m[7]) > 0 and not message_exists(room, tonumber(m[7])) then
      -- A reply to what is not a message of the room (section 21).
      emit(0, 3, ts)
    else
      local id = redis.call('HINCRBY', p .. 'seq', room, 1)
      store_message(room, id, m[1], m[2], m[3], m[4], m[7], sender, m[8])
      if key ~= '' then remember_msg_id(sender, member, id, ts, w) end
      -- Index 5 (0-based) is replyTo (0: none; section 21); 6 the file's JSON (section 23).
      published[#published + 1] = {id, m[1], m[2], m[3], m[4], tonumber(m[7]) or 0, m[8] or ''}
      emit(id, 0, ts)
    end
    end
  end
  -- Nothing new (every one a retry or refused): nothing to publish.
  if #published > 0 or #changed > 0 then
    local payload = {o = origin, k = token}
    if #published > 0 then payload.m = published end
    if #changed > 0 then payload.c = changed end
    redis.call('PUBLISH', p .. 'ch:room:' .. room, cjson.encode(payload))
  end
end
for _, d in ipairs(batch.d) do
  local ts = tonumber(d.ts)
  local member = 'd:' .. d.toKey .. ':' .. d.clientMsgId
  local earlier = d.clientMsgId ~= '' and recall_msg_id(d.fromKey, member, ts, w)
  local json = earlier and redis.call('HGET', p .. 'dm', earlier)
  if json then
    local e = cjson.decode(json)
    emit(earlier, (e.body == d.body and e.action == d.action) and 1 or 2, e.ts)
    out[#out + 1] = 0
  else
    local id = redis.call('INCR', p .. 'dmseq')
    local online = redis.call('EXISTS', p .. 'user:' .. d.toKey)
    local record = store_dm(id, d, online == 1)
    if d.clientMsgId ~= '' then remember_msg_id(d.fromKey, member, id, ts, w) end
    redis.call('PUBLISH', p .. 'ch:all', '{"o":"' .. origin .. '","dm":' .. record ..
      ',"u":' .. cjson.encode({d.toKey, d.fromKey}) .. '}')
    emit(id, 0, ts)
    out[#out + 1] = online
  end
end
return out
`);

/**
 * Creates a room unless it exists. ARGV: prefix, origin, room key, record
 * JSON, most rooms. Returns [1, record] when created, [0, existing record],
 * or [-1, ''] when the room limit is reached.
 */
export const CREATE_ROOM = script(`
local room = ARGV[3]
local existing = redis.call('HGET', p .. 'rooms', room)
if existing then return {0, existing} end
if redis.call('HLEN', p .. 'rooms') >= tonumber(ARGV[5]) then return {-1, ''} end
redis.call('HSET', p .. 'rooms', room, ARGV[4])
-- Empty until its creator enters: a failed join leaves it to expire.
if not account_owned(ARGV[4]) then redis.call('ZADD', p .. 'emptyrooms', now_ms(), room) end
redis.call('PUBLISH', p .. 'ch:all', '{"o":"' .. ARGV[2] .. '","fx":[{"kind":"created","record":' .. ARGV[4] .. '}]}')
return {1, ARGV[4]}
`);

/**
 * Counts a session into a room. ARGV: prefix, instance, room, user key,
 * nick, join payload, room record JSON (recreates a room deleted meanwhile),
 * the rights key that becomes the owner of the room if it is empty and
 * nobody owns it ('' for none), and the most members to return. Publishes
 * the join payload when the user was not in the room on any instance.
 * Returns [first (1/0), the room's settings JSON when this join made the
 * session its owner (else ''), members in all, the first member nicks by
 * name key...].
 */
export const ENTER = script(`
local inst, room, user, nick = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('HEXISTS', p .. 'rooms', room) == 0 then
  redis.call('HSET', p .. 'rooms', room, ARGV[7])
  redis.call('PUBLISH', p .. 'ch:all', '{"o":"' .. inst .. '","fx":[{"kind":"created","record":' .. ARGV[7] .. '}]}')
end
local claimed = ''
if ARGV[8] ~= '' and redis.call('HLEN', p .. 'members:' .. room) == 0 then
  local r = cjson.decode(redis.call('HGET', p .. 'rooms', room))
  if r.owner == cjson.null or r.owner == nil then
    r.owner = ARGV[8]
    claimed = cjson.encode(r)
    redis.call('HSET', p .. 'rooms', room, claimed)
    r.lastId = tonumber(redis.call('HGET', p .. 'seq', room) or '0')
    redis.call('PUBLISH', p .. 'ch:all', cjson.encode({o = inst, fx = {{kind = 'room', record = r}}}))
  end
end
redis.call('HINCRBY', p .. 'inst:' .. inst .. ':rooms', room .. ':' .. user, 1)
local first = member_add(room, user, nick, 1)
if first then redis.call('PUBLISH', p .. 'ch:room:' .. room, ARGV[6]) end
local page = listed_page('members:' .. room, '', tonumber(ARGV[9]))
table.insert(page, 1, claimed)
table.insert(page, 1, first and 1 or 0)
return page
`);

/**
 * Deletes rooms no account owns that have been empty for a while, with
 * their history, grants and files, telling every instance. ARGV: prefix, origin,
 * TTL ms, most rooms per call. Returns how many went.
 */
export const EXPIRE_ROOMS = script(`
local cutoff = now_ms() - tonumber(ARGV[3])
local rooms = redis.call('ZRANGEBYSCORE', p .. 'emptyrooms', '-inf', cutoff, 'LIMIT', 0, tonumber(ARGV[4]))
local n = 0
for _, room in ipairs(rooms) do
  redis.call('ZREM', p .. 'emptyrooms', room)
  local j = redis.call('HGET', p .. 'rooms', room)
  if j and redis.call('HLEN', p .. 'members:' .. room) == 0 and not account_owned(j) then
    redis.call('HDEL', p .. 'rooms', room)
    redis.call('HDEL', p .. 'seq', room)
    redis.call('DEL', p .. 'grants:' .. room, p .. 'log:' .. room, p .. 'msess:' .. room,
      p .. 'chg:' .. room, p .. 'mst:' .. room)
    redis.call('SREM', p .. 'grantrooms', room)
    drop_room_files(room)
    redis.call('PUBLISH', p .. 'ch:all',
      cjson.encode({o = ARGV[2], fx = {{kind = 'deleted', room = room}}}))
    n = n + 1
  end
end
return n
`);

/**
 * Counts a session out of a room. ARGV: prefix, instance, room, user key,
 * leave payload. Publishes the leave when it was the user's last session
 * anywhere, and deletes the room if nothing about it is worth keeping.
 * Returns 1 when the leave was published.
 */
export const EXIT = script(`
local inst, room, user = ARGV[2], ARGV[3], ARGV[4]
local ik = p .. 'inst:' .. inst .. ':rooms'
local c = redis.call('HINCRBY', ik, room .. ':' .. user, -1)
if c <= 0 then redis.call('HDEL', ik, room .. ':' .. user) end
if c < 0 then return 0 end
if not member_sub(room, user, 1) then return 0 end
redis.call('PUBLISH', p .. 'ch:room:' .. room, ARGV[5])
note_if_empty(room)
return 1
`);

/**
 * Claims a nickname cluster-wide. ARGV: prefix, instance, user key, nick,
 * account key ('' for a guest), admin (1/0), multiple sessions (1/0),
 * guest id ('' for an account), the session's resume token hash, the
 * resume token hash of the session to take over ('' for none), and the
 * name's lookalike key. Returns 'ok', 'taken' (someone else has it),
 * 'elsewhere' (the account is online and only one session is allowed),
 * 'resume:GUESTID' when the holder has the resume token given (end it,
 * then claim again), or 'looks:NICK' when NICK, online, looks alike.
 */
export const CLAIM = script(`
local inst, user, nick, acct = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local u = p .. 'user:' .. user
if redis.call('EXISTS', u) == 1 then
  local holder = redis.call('HGET', u, 'acct') or ''
  if ARGV[10] ~= '' and holder == acct and redis.call('HGET', u, 'rt') == ARGV[10] then
    return 'resume:' .. (redis.call('HGET', u, 'gid') or '')
  end
  if acct == '' or holder ~= acct then return 'taken' end
  if ARGV[7] ~= '1' then return 'elsewhere' end
end
local other = look_holder(ARGV[11], user, '')
if other then return 'looks:' .. other end
redis.call('HSET', u, 'nick', nick, 'acct', acct, 'gid', ARGV[8], 'rt', ARGV[9], 'look', ARGV[11])
look_set(ARGV[11], user)
if ARGV[6] == '1' then redis.call('HSET', u, 'adm', '1') end
redis.call('HINCRBY', u, 'n', 1)
redis.call('HINCRBY', p .. 'inst:' .. inst .. ':users', user, 1)
listed_set('online', user, nick)
return 'ok'
`);

/**
 * Makes a guest's claim of its nickname its new account's (the guest
 * registered it): the claim then records the account, so the account's
 * sessions on other instances share the name (CLAIM), and no guest id.
 * ARGV: prefix, instance, user key, account key, admin (1/0), the guest id
 * of the session that registered. Returns 1, or 0 when the name is not
 * held by that guest (nothing is changed).
 */
export const ADOPT = script(`
local u = p .. 'user:' .. ARGV[3]
if redis.call('HGET', u, 'acct') ~= '' or redis.call('HGET', u, 'gid') ~= ARGV[6] then
  return 0
end
redis.call('HSET', u, 'acct', ARGV[4], 'gid', '')
if ARGV[5] == '1' then redis.call('HSET', u, 'adm', '1') end
return 1
`);

/** Releases one session's claim. ARGV: prefix, instance, user key. */
export const RELEASE = script(`
local inst, user = ARGV[2], ARGV[3]
local iu = p .. 'inst:' .. inst .. ':users'
local c = redis.call('HINCRBY', iu, user, -1)
if c <= 0 then redis.call('HDEL', iu, user) end
if c < 0 then return 0 end
user_sub(user, 1)
return 1
`);

/**
 * Renames a guest's session. ARGV: prefix, instance, old key, new key, new
 * nick, JSON array of the rooms the session is in, the new nick's lookalike
 * key. Returns 'ok', 'taken', or 'looks:NICK' when NICK, online, looks alike.
 */
export const RENAME = script(`
local inst, old, new, nick = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local rooms = cjson.decode(ARGV[6])
if old == new then
  if redis.call('EXISTS', p .. 'user:' .. new) == 1 then
    redis.call('HSET', p .. 'user:' .. new, 'nick', nick)
    redis.call('HSET', p .. 'online', new, nick)
  end
  for _, room in ipairs(rooms) do
    if redis.call('HEXISTS', p .. 'members:' .. room, new) == 1 then
      redis.call('HSET', p .. 'members:' .. room, new, nick)
    end
  end
  return 'ok'
end
if redis.call('EXISTS', p .. 'user:' .. new) == 1 then return 'taken' end
local other = look_holder(ARGV[7], new, old)
if other then return 'looks:' .. other end
local gid = redis.call('HGET', p .. 'user:' .. old, 'gid') or ''
local rt = redis.call('HGET', p .. 'user:' .. old, 'rt') or ''
local away = redis.call('HGET', p .. 'user:' .. old, 'away')
local iu = p .. 'inst:' .. inst .. ':users'
local c = redis.call('HINCRBY', iu, old, -1)
if c <= 0 then redis.call('HDEL', iu, old) end
if c >= 0 then user_sub(old, 1) end
redis.call('HSET', p .. 'user:' .. new, 'nick', nick, 'acct', '', 'gid', gid, 'rt', rt, 'look', ARGV[7])
if away then redis.call('HSET', p .. 'user:' .. new, 'away', away) end
look_set(ARGV[7], new)
redis.call('HINCRBY', p .. 'user:' .. new, 'n', 1)
redis.call('HINCRBY', iu, new, 1)
listed_set('online', new, nick)
local ik = p .. 'inst:' .. inst .. ':rooms'
for _, room in ipairs(rooms) do
  local r = redis.call('HINCRBY', ik, room .. ':' .. old, -1)
  if r <= 0 then redis.call('HDEL', ik, room .. ':' .. old) end
  if r >= 0 then member_sub(room, old, 1) end
  redis.call('HINCRBY', ik, room .. ':' .. new, 1)
  member_add(room, new, nick, 1)
end
return 'ok'
`);

/**
 * Refreshes an instance's presence and reaps instances whose presence
 * expired (their users leave their rooms with reason 'server lost'). When
 * no instance has beaten for a whole TTL, Redis was away rather than the
 * instances, so every deadline starts afresh instead.
 * ARGV: prefix, instance, ttl ms. Returns 1 if the instance was present,
 * 0 if it was new or had been reaped (it must then re-assert its state).
 */
export const HEARTBEAT = script(`
local inst = ARGV[2]
local ttl = tonumber(ARGV[3])
local now = now_ms()
local last = tonumber(redis.call('GET', p .. 'lastbeat') or '0')
redis.call('SET', p .. 'lastbeat', now)
if last > 0 and now - last > ttl then
  -- Nobody beat for a whole TTL: Redis itself was away, not the instances.
  for _, other in ipairs(redis.call('ZRANGE', p .. 'instances', 0, -1)) do
    redis.call('ZADD', p .. 'instances', 'XX', now + ttl, other)
  end
end
local present = redis.call('ZSCORE', p .. 'instances', inst)
redis.call('ZADD', p .. 'instances', now + ttl, inst)
-- Counts from addresses whose connections stay open must not expire.
for _, ip in ipairs(redis.call('SMEMBERS', p .. 'inst:' .. inst .. ':ips')) do
  redis.call('PEXPIRE', p .. 'connip:' .. ip, 2 * ttl)
  redis.call('PEXPIRE', p .. 'hsip:' .. ip, 2 * ttl)
end
local dead = redis.call('ZRANGEBYSCORE', p .. 'instances', '-inf', now, 'LIMIT', 0, 8)
for _, d in ipairs(dead) do
  if d ~= inst then reap(d, 'server lost') end
end
if present then return 1 end
return 0
`);

/** Removes an instance's presence, announcing leaves. ARGV: prefix, instance, reason. */
export const DEPART = script(`
reap(ARGV[2], ARGV[3])
return 1
`);

/**
 * Replaces what Redis records about an instance with what it really has
 * (after Redis lost data, or the instance was reaped while cut off), and
 * raises sequences to at least what the instance has delivered, so ids never
 * go back. Joins and leaves are announced only where the change is visible.
 * Its published connection counts are replaced too.
 * ARGV: prefix, instance, JSON `{u: [[user, nick, acct, admin, n, guest id, resume hash, look,
 * away message or '']...],
 * r: [[room, user, nick, n]...], s: [[room, id]...], d: last DM id,
 * c: open connections, i: [[ip, open connections, of them not logged in]...]}`,
 * expiry of the per-address counts in ms.
 */
export const RESYNC = script(`
local inst = ARGV[2]
local snap = cjson.decode(ARGV[3])
local iu = p .. 'inst:' .. inst .. ':users'
local old = redis.call('HGETALL', iu)
for i = 1, #old, 2 do
  local c = tonumber(old[i + 1])
  if c > 0 then user_sub(old[i], c) end
end
redis.call('DEL', iu)
for _, u in ipairs(snap.u) do
  local key = p .. 'user:' .. u[1]
  redis.call('HSET', key, 'nick', u[2], 'acct', u[3], 'gid', u[6] or '', 'rt', u[7] or '',
    'look', u[8] or '')
  look_set(u[8] or '', u[1])
  if u[9] ~= nil and u[9] ~= '' then redis.call('HSET', key, 'away', u[9]) end
  if u[4] == 1 then redis.call('HSET', key, 'adm', '1') end
  redis.call('HINCRBY', key, 'n', u[5])
  redis.call('HINCRBY', iu, u[1], u[5])
  listed_set('online', u[1], u[2])
end
local ik = p .. 'inst:' .. inst .. ':rooms'
local before = {}
local fields = {}
local oldr = redis.call('HGETALL', ik)
for i = 1, #oldr, 2 do
  before[oldr[i]] = tonumber(oldr[i + 1])
  fields[#fields + 1] = oldr[i]
end
local want = {}
for _, r in ipairs(snap.r) do
  local f = r[1] .. ':' .. r[2]
  if want[f] == nil and before[f] == nil then fields[#fields + 1] = f end
  want[f] = r
end
redis.call('DEL', ik)
for _, f in ipairs(fields) do
  local sep = string.find(f, ':', 1, true)
  local room, user = string.sub(f, 1, sep - 1), string.sub(f, sep + 1)
  local w = want[f]
  local ms = p .. 'msess:' .. room
  local total = tonumber(redis.call('HGET', ms, user) or '0')
  local after = total - (before[f] or 0) + (w and w[4] or 0)
  if after <= 0 then
    redis.call('HDEL', ms, user)
    redis.call('SREM', p .. 'urooms:' .. user, room)
    local nick = redis.call('HGET', p .. 'members:' .. room, user)
    listed_del('members:' .. room, user)
    if total > 0 and nick then
      redis.call('PUBLISH', p .. 'ch:room:' .. room, room_event(room, 'leave', nick, 'server lost', inst))
    end
    note_if_empty(room)
  else
    redis.call('HSET', ms, user, after)
    redis.call('SADD', p .. 'urooms:' .. user, room)
    if w then listed_set('members:' .. room, user, w[3]) end
    set_size(room)
    if total <= 0 and w then
      redis.call('PUBLISH', p .. 'ch:room:' .. room, room_event(room, 'join', w[3], nil, inst))
    end
  end
  if w then redis.call('HSET', ik, f, w[4]) end
end
for _, s in ipairs(snap.s) do
  if s[2] > 0 then raise(p .. 'seq', s[1], s[2]) end
end
local dm = tonumber(redis.call('GET', p .. 'dmseq') or '0')
if snap.d > dm then redis.call('SET', p .. 'dmseq', snap.d) end
clear_connections(inst)
if snap.c > 0 then redis.call('HSET', p .. 'conns', inst, snap.c) end
local ii = p .. 'inst:' .. inst .. ':ips'
for _, c in ipairs(snap.i) do
  local key = p .. 'connip:' .. c[1]
  redis.call('HSET', key, inst, c[2])
  redis.call('PEXPIRE', key, ARGV[4])
  if c[3] ~= nil and c[3] > 0 then
    local hs = p .. 'hsip:' .. c[1]
    redis.call('HSET', hs, inst, c[3])
    redis.call('PEXPIRE', hs, ARGV[4])
  end
  redis.call('SADD', ii, c[1])
end
return 1
`);

/**
 * Publishes a change in an instance's open connections from one address,
 * and in how many of them have not logged in yet. ARGV: prefix, instance,
 * ip, connections delta (-1, 0 or 1), presence ttl ms, handshakes delta
 * (-1, 0 or 1). The address's counts expire after two TTLs unless the
 * heartbeat refreshes them, so nothing lingers if every instance is gone.
 */
export const COUNT_CONNECTION = script(`
local inst, ip, delta, ttl = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local hsdelta = tonumber(ARGV[6] or '0')
-- Only exactly 0 is removed: a decrement that overtook its increment (a
-- NOSCRIPT retry) leaves -1 behind, and the sums still come out right.
if delta ~= 0 then
  if redis.call('HINCRBY', p .. 'conns', inst, delta) == 0 then
    redis.call('HDEL', p .. 'conns', inst)
  end
  local key = p .. 'connip:' .. ip
  local ii = p .. 'inst:' .. inst .. ':ips'
  if redis.call('HINCRBY', key, inst, delta) == 0 then
    redis.call('HDEL', key, inst)
    redis.call('SREM', ii, ip)
  else
    redis.call('SADD', ii, ip)
    redis.call('PEXPIRE', key, 2 * ttl)
  end
end
if hsdelta ~= 0 then
  local hs = p .. 'hsip:' .. ip
  if redis.call('HINCRBY', hs, inst, hsdelta) == 0 then
    redis.call('HDEL', hs, inst)
  else
    redis.call('PEXPIRE', hs, 2 * ttl)
  end
end
return 1
`);

/**
 * Open connections on every live instance but one. ARGV: prefix, instance
 * left out, ip. Counts of instances no longer present (reaped, or never
 * cleaned up) are skipped. Returns [total, from ip, from ip not logged in].
 */
export const OTHER_CONNECTIONS = script(`
local inst = ARGV[2]
local live = {}
local function sum(key)
  local flat = redis.call('HGETALL', key)
  local n = 0
  for i = 1, #flat, 2 do
    local other = flat[i]
    if other ~= inst then
      if live[other] == nil then
        live[other] = redis.call('ZSCORE', p .. 'instances', other) ~= false
      end
      if live[other] then n = n + tonumber(flat[i + 1]) end
    end
  end
  return n
end
return {sum(p .. 'conns'), sum(p .. 'connip:' .. ARGV[3]), sum(p .. 'hsip:' .. ARGV[3])}
`);

/**
 * Applies a batch of store writes atomically (see Store.write). ARGV:
 * prefix, JSON array of writes as RedisStore encodes them, JSON `{ms, n}`:
 * the window of client message ids (see SEND).
 */
export const APPLY = script(`
local writes = cjson.decode(ARGV[2])
local win = cjson.decode(ARGV[3])
for _, w in ipairs(writes) do
  local k = w.kind
  if k == 'message' then
    local r = w.record
    store_message(r.room, r.id, r.from, r.body, r.ts, r.action, r.replyTo, r.senderKey, r.file)
    raise(p .. 'seq', r.room, r.id)
    if w.sender then
      remember_msg_id(w.sender, 'r:' .. r.room .. ':' .. w.clientMsgId, r.id, tonumber(r.ts), win)
    end
  elseif k == 'change' then
    -- Section 21: checked by the broker's bus before it was written.
    apply_change(w.room, w.id, w)
    raise(p .. 'seq', w.room, w.id)
  elseif k == 'file' then
    -- Files (section 23): metadata, the uploader's by time, the ids by content.
    redis.call('HSET', p .. 'files', w.id, w.json)
    redis.call('ZADD', p .. 'filesby:' .. w.uploader, w.ts, w.id .. ':' .. w.size)
    redis.call('SADD', p .. 'filesha:' .. w.sha256, w.id)
    if w.room ~= '' then redis.call('SADD', p .. 'roomfiles:' .. w.room, w.id) end
  elseif k == 'dm' then
    store_dm(w.id, w, w.delivered)
    if w.clientMsgId ~= '' then
      remember_msg_id(w.fromKey, 'd:' .. w.toKey .. ':' .. w.clientMsgId, w.id, tonumber(w.ts), win)
    end
    local dm = tonumber(redis.call('GET', p .. 'dmseq') or '0')
    if w.id > dm then redis.call('SET', p .. 'dmseq', w.id) end
  elseif k == 'room' then
    redis.call('HSET', p .. 'rooms', w.key, w.json)
    if w.lastId > 0 then raise(p .. 'seq', w.key, w.lastId) end
  elseif k == 'deleteRoom' then
    redis.call('HDEL', p .. 'rooms', w.room)
    redis.call('HDEL', p .. 'seq', w.room)
    redis.call('DEL', p .. 'grants:' .. w.room, p .. 'log:' .. w.room, p .. 'chg:' .. w.room,
      p .. 'mst:' .. w.room)
    redis.call('ZREM', p .. 'emptyrooms', w.room)
    redis.call('SREM', p .. 'grantrooms', w.room)
    drop_room_files(w.room)
  elseif k == 'grant' then
    redis.call('HSET', p .. 'grants:' .. w.room, w.field, w.json)
    redis.call('SADD', p .. 'grantrooms', w.room)
  elseif k == 'ungrant' then
    redis.call('HDEL', p .. 'grants:' .. w.room, w.field)
    if redis.call('HLEN', p .. 'grants:' .. w.room) == 0 then
      redis.call('SREM', p .. 'grantrooms', w.room)
    end
  elseif k == 'audit' then
    redis.call('XADD', p .. 'audit', '*', 'j', w.json)
  elseif k == 'delivered' then
    redis.call('ZREMRANGEBYSCORE', p .. 'dmpending:' .. w.user, '-inf', w.upTo)
  elseif k == 'read' then
    raise(p .. 'dmread:' .. w.user, w.peer, w.upTo)
  end
end
return #writes
`);

/** Every grant of every room, as JSON strings. ARGV: prefix. */
export const LOAD_GRANTS = script(`
local out = {}
for _, room in ipairs(redis.call('SMEMBERS', p .. 'grantrooms')) do
  for _, g in ipairs(redis.call('HVALS', p .. 'grants:' .. room)) do out[#out + 1] = g end
end
return out
`);

/** Unread DMs per peer of a user: [name, count, ...]. ARGV: prefix, user key. */
export const UNREAD = script(`
local user = ARGV[2]
local peers = redis.call('HGETALL', p .. 'dmpeers:' .. user)
local out = {}
for i = 1, #peers, 2 do
  local read = redis.call('HGET', p .. 'dmread:' .. user, peers[i]) or '0'
  local n = redis.call('ZCOUNT', p .. 'dmin:' .. user .. ':' .. peers[i], '(' .. read, '+inf')
  if n > 0 then
    out[#out + 1] = peers[i + 1]
    out[#out + 1] = n
  end
end
return out
`);

/**
 * A page of a listed hash (`online`, or `members:ROOM`) in name-key order.
 * ARGV: prefix, hash name (without the prefix), after (a key, '' from the
 * start), most names. Returns [names in all, names...].
 */
export const PAGE_NAMES = script(`
return listed_page(ARGV[2], ARGV[3], tonumber(ARGV[4]))
`);

// ---------------------------------------------------------------- away (section 22)

/**
 * Sets or ends an online user's away state (field `away` of its user hash,
 * which goes with the hash when its last session does) and publishes the
 * `away` event on the shared channel to the user's sessions and the members
 * of every room the user is in, on any instance. ARGV: prefix, instance,
 * user key, message ('' : back), the event (JSON), the token of the
 * publication. Returns 1 when published, 0 when the state was that already
 * or the user is not online. The rooms are those of `urooms:<user>`, which
 * member_add, member_sub and RESYNC keep: every room the user is in, on any
 * instance, so the cost is the user's rooms, never the chat's.
 */
export const SET_AWAY = script(`
local inst, user, msg = ARGV[2], ARGV[3], ARGV[4]
local u = p .. 'user:' .. user
if redis.call('EXISTS', u) == 0 then return 0 end
if (redis.call('HGET', u, 'away') or '') == msg then return 0 end
if msg == '' then redis.call('HDEL', u, 'away') else redis.call('HSET', u, 'away', msg) end
local rooms = {}
for _, room in ipairs(redis.call('SMEMBERS', p .. 'urooms:' .. user)) do
  if redis.call('HEXISTS', p .. 'msess:' .. room, user) == 1 then rooms[#rooms + 1] = room end
end
local to = {users = {user}}
-- An empty Lua table would encode as {}, not []: left out instead.
if #rooms > 0 then to.rooms = rooms end
redis.call('PUBLISH', p .. 'ch:all', '{"o":' .. cjson.encode(inst) .. ',"k":' ..
  cjson.encode(ARGV[6]) .. ',"to":' .. cjson.encode(to) .. ',"event":' .. ARGV[5] .. '}')
return 1
`);

/**
 * A page of a listed hash (`online`, or `members:ROOM`) in name-key order,
 * as PAGE_NAMES, with each name's away message ('' when not away). ARGV:
 * prefix, hash name, after, most names. Returns [names in all, name, away,
 * name, away, ...].
 */
export const PAGE_NAMES_AWAY = script(`
local hash, after, limit = ARGV[2], ARGV[3], tonumber(ARGV[4])
local start = '-'
if after ~= '' then start = '(' .. after end
local out = {redis.call('HLEN', p .. hash)}
if limit <= 0 then return out end
local keys = redis.call('ZRANGEBYLEX', p .. hash .. ':keys', start, '+', 'LIMIT', 0, limit)
if #keys == 0 then return out end
local names = redis.call('HMGET', p .. hash, unpack(keys))
for i, key in ipairs(keys) do
  if names[i] then
    out[#out + 1] = names[i]
    out[#out + 1] = redis.call('HGET', p .. 'user:' .. key, 'away') or ''
  end
end
return out
`);
