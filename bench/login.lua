-- POST /auth/login with the bench admin's credentials.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"login_id":"bench-admin","password":"Bench-Admin-Pass-2026!"}'
local report = dofile("bench/wrk_report.lua")
