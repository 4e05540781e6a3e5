-- Shared part of the wrk scripts of `make bench`: counts the responses of
-- each thread per HTTP status code and writes wrk's summary as JSON to the
-- file named by the environment variable BENCH_RESULT.
--
-- wrk (4.1) runs every function here in a separate Lua state per thread,
-- except setup and done, which run in the main state. done therefore reads
-- each thread's counts through thread:get.

local threads = {}

-- Status code (number) -> responses, in the state of one thread.
statuses = {}

function setup(thread)
	table.insert(threads, thread)
	thread:set("thread_id", #threads)
end

function response(status, headers, body)
	statuses[status] = (statuses[status] or 0) + 1
end

local function json_counts(counts)
	local parts = {}
	for status, n in pairs(counts) do
		table.insert(parts, string.format('"%d": %d', status, n))
	end
	table.sort(parts)
	return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
	local merged = {}
	for _, thread in ipairs(threads) do
		for status, n in pairs(thread:get("statuses")) do
			merged[status] = (merged[status] or 0) + n
		end
	end

	local path = os.getenv("BENCH_RESULT")
	if path == nil or path == "" then
		io.stderr:write("results.lua: BENCH_RESULT is not set, so the results are not saved\n")
		return
	end
	local file = assert(io.open(path, "w"))
	local errors = summary.errors
	-- Durations and latencies are in microseconds, as wrk measures them.
	file:write(string.format(
		'{"requests": %d, "duration_us": %d, "bytes": %d, ' ..
		'"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
		'"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "max": %d}, ' ..
		'"statuses": %s}\n',
		summary.requests, summary.duration, summary.bytes,
		errors.connect, errors.read, errors.write, errors.status, errors.timeout,
		latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
		json_counts(merged)))
	file:close()
end
