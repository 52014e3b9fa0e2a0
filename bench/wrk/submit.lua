-- POST a valid 1080p LTX-2 Fast submit, with a fresh UUID v4 taskUUID per request.
-- wrk -s submit.lua URL -- [API_KEY]
package.path = (debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "?.lua;" .. package.path
require("common")

local key = "bench-key"
local hex = "0123456789abcdef"

local function uuid4()
  local out = {}
  for i = 1, 36 do
    if i == 9 or i == 14 or i == 19 or i == 24 then
      out[i] = "-"
    elseif i == 15 then
      out[i] = "4"
    elseif i == 20 then
      local v = math.random(8, 11)
      out[i] = hex:sub(v + 1, v + 1)
    else
      local v = math.random(0, 15)
      out[i] = hex:sub(v + 1, v + 1)
    end
  end
  return table.concat(out)
end

function init(args)
  seed()
  if args[1] then key = args[1] end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. key
end

local head = '[{"taskType":"videoInference","taskUUID":"'
local tail = '","model":"lightricks:2@1","positivePrompt":"A lighthouse on a basalt cliff ' ..
  'at dusk, waves crashing below, slow aerial orbit","width":1920,"height":1080,' ..
  '"duration":6,"fps":25,"outputFormat":"MP4",' ..
  '"deliveryMethod":"async","includeCost":true}]'

function request()
  return wrk.format(nil, nil, nil, head .. uuid4() .. tail)
end
