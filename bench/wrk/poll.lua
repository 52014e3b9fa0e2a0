-- POST a getResponse poll of one known task.
-- wrk -s poll.lua URL -- TASK_UUID [API_KEY]
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
require("common")

function init(args)
  seed()
  local task = args[1] or "6f1c2b52-4a5e-4c8e-9a57-2f0f3d1e9b10"
  local key = args[2] or "bench-key"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. key
  wrk.body = '[{"taskType":"getResponse","taskUUID":"' .. task .. '"}]'
end
