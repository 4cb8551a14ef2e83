-- wrk script: POST token=<t> to the introspection path with HTTP Basic caller credentials.
-- Environment: BENCH_PATH, BENCH_AUTH (whole Authorization value), BENCH_TOKENS (a file with
-- one token per line; requests cycle through them in order, so a file longer than the run
-- means every request carries a token the server has never seen).
local path = os.getenv("BENCH_PATH") or "/oauth2/introspect"
local auth = os.getenv("BENCH_AUTH")
local tokens = {}
local i = 0

function init(args)
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    tokens[#tokens + 1] = line
  end
end

function request()
  i = i % #tokens + 1
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
  if auth then headers["Authorization"] = auth end
  return wrk.format("POST", path, headers, "token=" .. tokens[i])
end
