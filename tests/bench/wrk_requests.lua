-- Cycles through pre-signed webhook requests (one per line: timestamp, signature, body,
-- tab separated). With DELAY_MS set, each connection waits that long between
-- requests (the harness calibrates it so the total stays near a target rate).
local requests = {}
local counter = 0
local delay_ms = 0

function init(args)
  local path = args[1]
  delay_ms = tonumber(args[2] or "0")
  local target = args[3] or "/webhooks/recho"
  for line in io.lines(path) do
    local ts, sig, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", target, {
      ["Content-Type"] = "application/json",
      ["X-Recho-Timestamp"] = ts,
      ["X-Recho-Signature"] = sig,
    }, body)
  end
  counter = math.random(#requests)
end

function request()
  counter = counter + 1
  return requests[(counter % #requests) + 1]
end

function delay()
  return delay_ms
end
