-- wrk: GET /v1/users?search=a as merchant staff (every organization sam sees).
wrk.headers["X-PartnerGate-Actor"] = "staff:sam"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("PARTNERGATE_SERVICE_TOKEN") or "")
