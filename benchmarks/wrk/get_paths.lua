-- GET a random path from a file of paths (one per line), e.g. /fhir/Patient/<id>.
-- Usage: wrk -s get_paths.lua <url> -- <paths-file> [bearer-token]
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua"
require "common"

local paths
local headers = { ["Accept"] = "application/fhir+json" }

function init(args)
  paths = load_lines(args[1])
  if args[2] then
    headers["Authorization"] = "Bearer " .. args[2]
  end
  math.randomseed(os.time() + wrk.thread:get("number") * 7919)
end

function request()
  return wrk.format("GET", paths[math.random(#paths)], headers)
end
