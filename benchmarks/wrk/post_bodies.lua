-- POST bodies from a file (one JSON document per line) to one path, round robin; each
-- thread starts at a different body.
-- Usage: wrk -s post_bodies.lua <url> -- <bodies-file> <path>
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua"
require "common"

local bodies
local path
local index = 0
local headers = {
  ["Content-Type"] = "application/fhir+json",
  ["Accept"] = "application/fhir+json",
}

function init(args)
  bodies = load_lines(args[1])
  path = args[2]
  index = (wrk.thread:get("number") * 17) % #bodies
end

function request()
  index = index % #bodies + 1
  return wrk.format("POST", path, headers, bodies[index])
end
