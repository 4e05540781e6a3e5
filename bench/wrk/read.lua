-- wrk script for the authenticated reads of `make bench`: sends every
-- request with the Cookie header in the environment variable BENCH_COOKIE
-- (empty for /healthz) and saves the results as results.lua describes.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "results.lua")

local cookie = os.getenv("BENCH_COOKIE")
if cookie ~= nil and cookie ~= "" then
	wrk.headers["Cookie"] = cookie
end
