-- Prints one machine-readable line after the run: requests/s and latency percentiles in us,
-- the transport errors and non-2xx/3xx answers, and the requests answered (for CPU per request).
done = function(summary, latency, requests)
  local secs = summary.duration / 1e6
  io.write(string.format("RESULT rps=%.1f p50=%d p99=%d p999=%d errors=%d non2xx=%d requests=%d\n",
    summary.requests / secs, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.requests))
end
