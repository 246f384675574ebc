-- GET a random path from a file of paths (one per line), e.g. /fhir/Patient/<id>.
-- Usage: wrk -s get_paths.lua <url> -- <paths-file> [bearer-token]
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua"
require "common"

local paths, headers

function init(args)
  paths, headers = paths_and_headers(args[1], args[2])
end

function request()
  return wrk.format("GET", paths[math.random(#paths)], headers)
end
