-- wrk: POST /v1/authorize, bob places orders. ORDERS (environment) says
-- which: `repeated` (the same order, orderTotal 12000, again and again),
-- `new` (every order with its own total, as checkouts are) or `mixed`
-- (every other order new). New totals are unique per thread and request
-- (most of them over bob's limit of 50,000: denied by the spending-limit
-- policy, which costs the same to decide as an allowed order).
local mode = os.getenv("ORDERS") or "new"
local token = os.getenv("PARTNERGATE_SERVICE_TOKEN") or ""
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local headers = {
  ["Content-Type"] = "application/json",
  ["Authorization"] = "Bearer " .. token,
}
local body = '{"principal": "customer:bob", "action": "placeOrder", "resource": "store:main", "context": {"orderTotal": %d}}'
local counter = 0

function request()
  counter = counter + 1
  local total = 12000
  if mode == "new" or (mode == "mixed" and counter % 2 == 0) then
    -- Unique per thread and request: never asked before in this run.
    total = 1 + counter * 64 + (id or 0)
  end
  return wrk.format("POST", nil, headers, string.format(body, total))
end
