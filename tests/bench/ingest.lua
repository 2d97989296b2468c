-- wrk script: signed Cal.com deliveries from a pre-built file, one unique body per request.
--   wrk -s ingest.lua URL -- <requests file> <threads> [<ids file prefix>]
-- The file has one "<signature> <body>" line per delivery; thread i takes lines i, i+n, ...
-- WRK_DELAY_MS (environment) paces each connection: a wait before every request.
-- done() prints one line "WRKJSON {...}" with the counts and latency percentiles.
local threads = {}
local counter = 0

function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function init(args)
   local nthreads = tonumber(args[2])
   reqs = {}
   local i = 0
   for line in io.lines(args[1]) do
      if i % nthreads == tid then
         local sp = string.find(line, " ", 1, true)
         table.insert(reqs, wrk.format("POST", "/webhooks/calcom", {
            ["Content-Type"] = "application/json",
            ["X-Cal-Signature-256"] = string.sub(line, 1, sp - 1),
            ["X-Cal-Webhook-Version"] = "2021-10-20",
         }, string.sub(line, sp + 1)))
      end
      i = i + 1
   end
   nreq = #reqs
   idx = 0
   ok, bad, wrapped = 0, 0, 0
   if args[3] ~= nil then
      ids = io.open(args[3] .. "." .. tostring(tid), "w")
      ids:setvbuf("line")
   end
end

function request()
   idx = idx + 1
   if idx > nreq then
      idx = 1
      wrapped = wrapped + 1
      wrk.thread:set("wrapped", wrapped)
   end
   return reqs[idx]
end

local pace = tonumber(os.getenv("WRK_DELAY_MS") or "")
if pace then
   function delay()
      return pace
   end
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
      if ids then
         ids:write(string.match(body, '"delivery_id":%s*(%d+)') or "?", "\n")
      end
   else
      bad = bad + 1
   end
   wrk.thread:set("ok", ok)
   wrk.thread:set("bad", bad)
end

function done(summary, latency, requests)
   local ok_total, bad_total, wrapped_total = 0, 0, 0
   for _, t in ipairs(threads) do
      ok_total = ok_total + (t:get("ok") or 0)
      bad_total = bad_total + (t:get("bad") or 0)
      wrapped_total = wrapped_total + (t:get("wrapped") or 0)
   end
   io.write(string.format(
      'WRKJSON {"requests":%d,"duration_us":%d,"ok":%d,"bad":%d,"wrapped":%d,' ..
      '"errors_connect":%d,"errors_read":%d,"errors_write":%d,"errors_timeout":%d,' ..
      '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
      summary.requests, summary.duration, ok_total, bad_total, wrapped_total,
      summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
