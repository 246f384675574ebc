-- GET a random path from a file of paths, each connection pausing between requests: an
-- offered load below saturation, so the latency measured is a request's, not a queue's.
-- Usage: wrk -s get_paths_paced.lua <url> -- <paths-file> <pause-ms> [bearer-token]
-- (wrk's latency starts when a request is sent: the pause is not counted in it.)
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua"
require "common"

local paths, headers, pause

function init(args)
  paths, headers = paths_and_headers(args[1], args[3])
  pause = tonumber(args[2])
  assert(pause and pause > 0, "a pause in ms is required")
end

function delay()
  return pause
end

function request()
  return wrk.format("GET", paths[math.random(#paths)], headers)
end
