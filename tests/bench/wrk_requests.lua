-- Cycles through pre-signed webhook requests (one per line: timestamp, signature, body,
-- tab separated). With RATE and CONNECTIONS set, each connection waits between
-- requests so the total stays near RATE requests/s (closed loop, for latency runs).
local requests = {}
local counter = 0
local delay_ms = 0

function init(args)
  local path = args[1]
  local rate = tonumber(args[2] or "0")
  local connections = tonumber(args[3] or "1")
  local target = args[4] or "/webhooks/recho"
  local thread_offset = tonumber(args[5] or "0")
  for line in io.lines(path) do
    local ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", target, {
      ["Content-Type"] = "application/json",
      ["X-Recho-Timestamp"] = ts,
      ["X-Recho-Signature"] = sig,
    }, body)
  end
  counter = thread_offset
  if rate > 0 then
    delay_ms = 1000 * connections / rate
  end
end

function request()
  counter = counter + 1
  return requests[(counter % #requests) + 1]
end

function delay()
  return delay_ms
end
