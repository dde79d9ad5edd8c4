-- wrk script: POST /tickets-status with the original service's body, a unique ticket id and
-- Idempotency-Key per request (so every request publishes an event, as in production).
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local n = string.format("%04x%08x", thread_id, counter)
  local ticket = string.format("%s-0000-4000-8000-%012x", string.sub(n, 1, 8), counter)
  local body = '{"tickets":[{"ticket_id":"' .. ticket .. '","status":"confirmed",' ..
    '"customer_email":"wrk@example.com","price":{"amount":"50.30","currency":"EUR"}}]}'
  return wrk.format("POST", "/tickets-status",
    {["Content-Type"] = "application/json", ["Idempotency-Key"] = "wrk-" .. n .. "-" .. os.time()},
    body)
end
