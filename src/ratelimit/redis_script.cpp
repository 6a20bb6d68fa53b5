// The Redis store's Lua script: what redis_store.cpp sends with its decisions, and the answer it
// reads back.
#include <openssl/sha.h>

#include <string>
#include <string_view>

#include "ratelimit/redis_store.hpp"

namespace evald::ratelimit {
namespace {

// One call decides every request waiting on a connection (coalesced within one turn of its
// event loop). ARGV: the number of rules R, then seven values per rule: refill per ms, burst,
// penalty ms, penalty threshold, penalty window ms, penalty cap ms, shadow (1/0); then the
// number of distinct buckets D and each one's rule (1..R); then the number of requests, and per
// request its number of checks n and each check's bucket (1..D). KEYS: per distinct bucket, its
// key, then its penalty box's when the rule has a penalty (a rule without one has no box). A
// bucket several requests of the call draw from (the global one, always; a busy client's) is
// sent, read (one MGET) and written (one SET) once per call, not once per request. Each check
// takes one token. A bucket is the string "<tokens used>:<updated ms>" (see Bucket) that
// expires when it would be full again; a box is "<window start>:<refusals>:<offences>:<blocked
// until>". Requests are decided in order, as if one after the other. Same arithmetic as
// bucket.cpp.
//
// Returns one string of space-separated integers (not an array: the client reads it without an
// object per number), per request and per check: flags (1 allowed, 2 had a token, 4 blocked, 8
// newly blocked), remaining tokens x 1000, ms until full; then, only when it had no token, ms
// until one is back; then, only when blocked, ms the block still lasts. The usual check is three
// numbers, and the flags are ready-made text: turning a number into text is most of what a
// check costs in Lua (each goes through sprintf), so the answer holds no number the client can
// do without. A check's bucket and a request's count are looked up by their text, not read with
// tonumber, for the same reason.
constexpr std::string_view kScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local eps = 1e-9
local fmt, floor, ceil, min = string.format, math.floor, math.ceil, math.min
-- A wait is at most 2^53 ms, as in bucket.cpp (kNeverMs); %d of a larger double is undefined.
local never = 2 ^ 53
local flag_text = {[0] = '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12',
                   '13', '14', '15'}
local count = {['1'] = 1, ['2'] = 2, ['3'] = 3, ['4'] = 4, ['5'] = 5, ['6'] = 6, ['7'] = 7,
               ['8'] = 8}
local rules = {}
local ai = 2
for i = 1, tonumber(ARGV[1]) do
  rules[tostring(i)] = {per_ms = tonumber(ARGV[ai]), burst = tonumber(ARGV[ai + 1]),
                        penalty = tonumber(ARGV[ai + 2]), threshold = tonumber(ARGV[ai + 3]),
                        pwindow = tonumber(ARGV[ai + 4]), cap = tonumber(ARGV[ai + 5]),
                        shadow = ARGV[ai + 6] == '1'}
  ai = ai + 7
end
-- The distinct buckets, read once, by their number as the requests send it.
local values = redis.call('MGET', unpack(KEYS))
local buckets, list = {}, {}
local ki = 1
local nd = tonumber(ARGV[ai])
for d = 1, nd do
  local r = rules[ARGV[ai + d]]
  local b = {key = KEYS[ki], used = 0, r = r}
  local raw = values[ki]
  ki = ki + 1
  if raw then
    local sep = string.find(raw, ':', 1, true)
    local elapsed = now - tonumber(string.sub(raw, sep + 1))
    if elapsed < 0 then elapsed = 0 end
    local used = tonumber(string.sub(raw, 1, sep - 1)) - elapsed * r.per_ms
    if used > 0 then b.used = used end
  end
  if r.penalty > 0 then
    local x = {key = KEYS[ki], ws = 0, rc = 0, of = 0, bu = 0}
    raw = values[ki]
    ki = ki + 1
    if raw then
      local ws, rc, of, bu = string.match(raw, '^(%d+):(%d+):(%d+):(%d+)$')
      x.ws, x.rc, x.of, x.bu = tonumber(ws), tonumber(rc), tonumber(of), tonumber(bu)
    end
    b.box = x
  end
  buckets[tostring(d)] = b
  list[d] = b
end
ai = ai + nd + 1
local out = {}
local no = 0
-- Per check of the current request, reused from one request to the next. (Comparisons in
-- place of math.max and math.min here: a call costs more than the arithmetic.)
local bs, tokens, has, ok, blocked = {}, {}, {}, {}, {}
local nreq = tonumber(ARGV[ai])
ai = ai + 1
for _ = 1, nreq do
  local n = count[ARGV[ai]] or tonumber(ARGV[ai])
  ai = ai + 1
  local allowed = true
  for i = 1, n do
    local b = buckets[ARGV[ai]]
    ai = ai + 1
    local r, x = b.r, b.box
    local left = r.burst - b.used
    if left < 0 then left = 0 end
    local bl = x ~= nil and now < x.bu
    local h = left + eps >= 1
    bs[i], tokens[i], blocked[i], has[i], ok[i] = b, left, bl, h, h and not bl
    if not (h and not bl) and not r.shadow then allowed = false end
  end
  for i = 1, n do
    local b = bs[i]
    local r, x = b.r, b.box
    local remaining = tokens[i]
    local newly = false
    if allowed and ok[i] then
      remaining = remaining - 1
      if remaining < 0 then remaining = 0 end
      local used = b.used + 1
      if used > r.burst then used = r.burst end
      b.used = used
      b.dirty = true
    elseif not allowed and not ok[i] and not r.shadow and not blocked[i] and x then
      if now - x.ws >= r.pwindow then
        x.ws = now
        x.rc = 0
      end
      x.rc = x.rc + 1
      if x.rc >= r.threshold then
        x.bu = now + min(r.cap, r.penalty * 2 ^ min(x.of, 20))
        x.of = x.of + 1
        x.rc = 0
        x.ws = now
        blocked[i] = true
        newly = true
      end
      -- The box lives while it blocks or counts, and a repeat offender's record a cap longer.
      x.ttl = math.max(x.bu - now, x.ws + r.pwindow - now)
      if x.of > 0 then x.ttl = math.max(x.ttl, x.bu - now + r.cap) end
      x.dirty = true
    end
    local f = ok[i] and 1 or 0
    if has[i] then f = f + 2 end
    if blocked[i] then f = f + 4 end
    if newly then f = f + 8 end
    local reset = ceil((r.burst - remaining) / r.per_ms)
    if reset > never then reset = never end
    out[no + 1] = flag_text[f]
    out[no + 2] = fmt('%d', floor(remaining * 1000))
    out[no + 3] = fmt('%d', reset)
    no = no + 3
    if not has[i] then
      no = no + 1
      out[no] = fmt('%d', min(never, ceil((1 - tokens[i]) / r.per_ms)))
    end
    if blocked[i] then
      no = no + 1
      out[no] = fmt('%d', x.bu - now)
    end
  end
end
for _, b in ipairs(list) do
  if b.dirty then
    redis.call('SET', b.key, fmt('%.17g', b.used) .. ':' .. now, 'PX',
               min(never, ceil(b.used / b.r.per_ms)) + 1000)
  end
  local x = b.box
  if x and x.dirty then
    redis.call('SET', x.key, fmt('%d:%d:%d:%d', x.ws, x.rc, x.of, x.bu), 'PX', x.ttl + 1000)
  end
end
return table.concat(out, ' ')
)lua";

std::string sha1_hex(const std::string& text) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace

const std::string& redis_script() {
  static const std::string script(kScript);
  return script;
}

const std::string& redis_script_sha() {
  static const std::string sha = sha1_hex(redis_script());
  return sha;
}

}  // namespace evald::ratelimit
