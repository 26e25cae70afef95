-- wrk: POST /v1/authorize with one decision request (bob may browse).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("PARTNERGATE_SERVICE_TOKEN") or "")
wrk.body = '{"principal": "customer:bob", "action": "browse", "resource": "store:main", "context": {}}'
