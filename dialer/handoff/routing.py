"""The ACD's routing step, run inside Redis as one Lua script (dialer.handoff.acd.Acd.route):
the pick of an agent and both state changes happen at once, so two hosts routing at the
same moment never offer one agent two calls or one call to two agents."""

# KEYS: ready, queue:<name>, call:<id>; ARGV: prefix, call id, now, preferred agent or "",
# required skills...  Returns the agent offered the call, or false.
ROUTE_SCRIPT = """
local prefix, call, now, prefer = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local function fits(agent)
  if redis.call('HGET', prefix .. 'agent:' .. agent, 'state') ~= 'ready' then
    return false
  end
  for i = 5, #ARGV do
    if redis.call('SISMEMBER', prefix .. 'agent:' .. agent .. ':skills', ARGV[i]) == 0 then
      return false
    end
  end
  return true
end
if redis.call('HGET', KEYS[3], 'state') ~= 'waiting' then return false end
local chosen = false
if prefer ~= '' and redis.call('ZSCORE', KEYS[1], prefer) and fits(prefer) then
  chosen = prefer
else
  for _, agent in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    if fits(agent) then chosen = agent; break end
  end
end
if not chosen then return false end
redis.call('ZREM', KEYS[1], chosen)
redis.call('ZREM', KEYS[2], call)
redis.call('HSET', prefix .. 'agent:' .. chosen, 'state', 'offered', 'since', now,
           'call', call, 'reason', '')
redis.call('HSET', KEYS[3], 'state', 'offered', 'agent', chosen, 'offered_at', now)
return chosen
"""
