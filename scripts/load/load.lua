-- wrk script of the load harness (scripts/load.sh, `make load`).
--
-- LOAD_ROW names the request; LOAD_DATA is the directory with the ids the
-- harness wrote after seeding: tokens.txt (one access token a line, one per
-- seeded user), videos.txt, users.txt, words.txt. Every request takes the
-- next token, video, user or word in turn, each thread starting at its own
-- offset, so the load spreads over the seeded users and videos.
--
-- done() prints one line the harness parses:
--   LOADRESULT <row> <requests> <seconds> <p50 µs> <p99 µs> <status errors> <socket errors>
-- wrk counts a status >= 400 as a status error; the harness checks before
-- each row that its request answers 2xx.

local row = os.getenv("LOAD_ROW") or "health"
local data = os.getenv("LOAD_DATA") or "."

local function lines(name)
  local t = {}
  local f = io.open(data .. "/" .. name, "r")
  if not f then return t end
  for l in f:lines() do
    if l ~= "" then t[#t + 1] = l end
  end
  f:close()
  return t
end

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local tokens, videos, users, words
local i = 0
local batches = {}

-- batch builds n JSON bodies {"<key>": [20 ids]} from list, in turn.
local function batch(list, key, n)
  local out = {}
  for b = 1, n do
    local ids = {}
    for k = 1, 20 do
      ids[k] = '"' .. list[((b * 20 + k) % #list) + 1] .. '"'
    end
    out[b] = '{"' .. key .. '":[' .. table.concat(ids, ",") .. ']}'
  end
  return out
end

function init(args)
  tokens, videos, users, words = lines("tokens.txt"), lines("videos.txt"), lines("users.txt"), lines("words.txt")
  -- Threads start far apart in the lists.
  i = (tonumber(tid) or 1) * 7919
  if row == "checkbatch" then
    batches = batch(videos, "video_ids", 97)
  elseif row == "batchinfo" then
    batches = batch(users, "user_ids", 97)
  end
end

local function pick(list, n) return list[(n % #list) + 1] end

local function auth(n)
  return { ["Authorization"] = "Bearer " .. pick(tokens, n) }
end

local json = { ["Content-Type"] = "application/json" }

local function jsonAuth(n)
  return { ["Authorization"] = "Bearer " .. pick(tokens, n), ["Content-Type"] = "application/json" }
end

function request()
  i = i + 1
  -- A token and a video that drift apart: token n meets every video in turn.
  local t, v = i, i * 31 + math.floor(i / #tokens)
  if row == "health" then
    return wrk.format("GET", "/health")
  elseif row == "foryou" then
    return wrk.format("GET", "/v1/feed/for-you", auth(t))
  elseif row == "like" then
    return wrk.format("POST", "/v1/likes/videos/" .. pick(videos, v), auth(t))
  elseif row == "likecheck" then
    return wrk.format("GET", "/v1/likes/videos/" .. pick(videos, v) .. "/check", auth(t))
  elseif row == "checkbatch" then
    return wrk.format("POST", "/v1/likes/check-batch", jsonAuth(t), pick(batches, i))
  elseif row == "batchinfo" then
    return wrk.format("POST", "/v1/users/batch-info", jsonAuth(t), pick(batches, i))
  elseif row == "videos" then
    return wrk.format("GET", "/v1/videos")
  elseif row == "view" then
    return wrk.format("POST", "/v1/videos/" .. pick(videos, v) .. "/view", auth(t))
  elseif row == "search" then
    return wrk.format("GET", "/v1/search?q=" .. pick(words, i))
  elseif row == "latest" then
    return wrk.format("GET", "/v1/videos/feed?algorithm=latest")
  end
  error("unknown LOAD_ROW " .. row)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("LOADRESULT %s %d %.3f %d %d %d %d\n", row, summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
