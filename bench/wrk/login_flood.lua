-- wrk script for the login flood of `make bench`: posts a wrong password
-- for a new email on every request, so that each one reaches the password
-- check instead of the per-account lock. Each request carries one of the
-- CSRF cookie and token pairs in the file named by BENCH_CSRF_PAIRS (one
-- "name=value token" per line), taken in turn. BENCH_EMAIL_PREFIX makes the
-- emails of one run differ from those of any other. The results are saved
-- as results.lua describes.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "results.lua")

local csrf_pairs = {}
local pairs_path = os.getenv("BENCH_CSRF_PAIRS")
if pairs_path ~= nil and pairs_path ~= "" then
	for line in io.lines(pairs_path) do
		local cookie, token = line:match("^(%S+) (%S+)$")
		if cookie ~= nil then
			table.insert(csrf_pairs, { cookie = cookie, token = token })
		end
	end
end

local email_prefix = os.getenv("BENCH_EMAIL_PREFIX") or "flood"
local sent = 0

function init(args)
	if #csrf_pairs == 0 then
		error("login_flood.lua: no CSRF pairs read from BENCH_CSRF_PAIRS=" .. tostring(pairs_path))
	end
end

function request()
	sent = sent + 1
	local pair = csrf_pairs[(sent - 1) % #csrf_pairs + 1]
	-- thread_id is set by setup in results.lua. "%40" is the encoded "@".
	local email = string.format("%s-%d-%d%%40bench.invalid", email_prefix, thread_id, sent)
	local body = "email=" .. email .. "&password=wrong-password-for-bench&csrf_token=" .. pair.token
	local headers = {
		["Content-Type"] = "application/x-www-form-urlencoded",
		["Cookie"] = pair.cookie,
	}
	return wrk.format("POST", "/login", headers, body)
end
