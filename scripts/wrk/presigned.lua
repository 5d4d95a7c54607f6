-- Sends the signed bets `server bench presign` wrote, one line a request, from wrk:
--
--   wrk -t2 -c64 -d10s -s scripts/wrk/presigned.lua http://HOST:PORT -- PREFIX [LIMIT]
--
-- Thread i reads PREFIX.i from its first line. Each line is sent once; after the last
-- line (or after LIMIT lines, when given) the thread starts the file again, so what it
-- sends from then on are replays. `done` prints, per thread, the lines sent and how many
-- times the file was started again, for scripts/wrk.sh to check that a `first` pass sent
-- no replay and to size the `replay` pass (docs/PERFORMANCE.md, "Measured with wrk").
-- The first thread's count includes one line wrk asked for before starting, to check the
-- request's format, and never sent.
local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

function init(args)
   local path = args[1] .. "." .. id
   file = assert(io.open(path, "r"), "cannot open " .. path)
   limit = tonumber(args[2] or "0")
   sent = 0       -- lines sent since the file was last started
   total = 0
   wrapped = 0
end

local function next_line()
   local line = file:read("*l")
   if line == nil or (limit > 0 and sent >= limit) then
      file:seek("set", 0)
      wrapped = wrapped + 1
      sent = 0
      line = file:read("*l")
   end
   sent = sent + 1
   total = total + 1
   return line
end

function request()
   local path, key, timestamp, signature, request_id, body =
      next_line():match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
   return wrk.format("POST", path, {
      ["Content-Type"] = "application/json",
      ["X-Wallet-Key-Id"] = key,
      ["X-Wallet-Timestamp"] = timestamp,
      ["X-Wallet-Signature"] = signature,
      ["X-Request-Id"] = request_id,
   }, body)
end

function done(summary, latency, requests)
   for _, thread in ipairs(threads) do
      io.write(string.format("presigned thread %d: sent %d, wrapped %d\n",
         thread:get("id"), thread:get("total"), thread:get("wrapped")))
   end
   io.write(string.format("presigned latency ms: p50 %.1f p99 %.1f\n",
      latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
