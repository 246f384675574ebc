-- Shared by the wrk scripts: per-thread numbering and a machine-readable summary line.
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("number", counter)
end

function load_lines(path)
  local lines = {}
  for line in io.lines(path) do
    if #line > 0 then lines[#lines + 1] = line end
  end
  assert(#lines > 0, "no lines in " .. path)
  return lines
end

-- The paths of a file to GET at random, and the request headers (a bearer token if given);
-- seeds each thread's random numbers apart.
function paths_and_headers(path_file, token)
  local headers = { ["Accept"] = "application/fhir+json" }
  if token then
    headers["Authorization"] = "Bearer " .. token
  end
  math.randomseed(os.time() + wrk.thread:get("number") * 7919)
  return load_lines(path_file), headers
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
