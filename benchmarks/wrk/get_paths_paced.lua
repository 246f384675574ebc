-- GET a random path from a file of paths, each connection pausing between requests: an
-- offered load below saturation, so the latency measured is a request's, not a queue's.
-- Usage: wrk -s get_paths_paced.lua <url> -- <paths-file> <pause-ms> [bearer-token]
-- (wrk's latency starts when a request is sent: the pause is not counted in it.)
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua"
require "common"

local paths
local pause
local headers = { ["Accept"] = "application/fhir+json" }

function init(args)
  paths = load_lines(args[1])
  pause = tonumber(args[2])
  assert(pause and pause > 0, "a pause in ms is required")
  if args[3] then
    headers["Authorization"] = "Bearer " .. args[3]
  end
  math.randomseed(os.time() + wrk.thread:get("number") * 7919)
end

function delay()
  return pause
end

function request()
  return wrk.format("GET", paths[math.random(#paths)], headers)
end
