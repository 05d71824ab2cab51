#!/usr/bin/env bash
# Checks an installed Chio end to end (README.md, step 6):
#   1. an authenticated POST /tools/hello is answered 200 with an x-chio-receipt-id header,
#   2. the same request without credentials is answered 403,
#   3. `chio prove` verifies the receipt's inclusion proof against the log key.
# Requests are sent from the mesh-client pod (04-demo-workload.yaml), so they pass through
# demo-tool's sidecar; the verifier is reached through a kubectl port-forward.
#
# Needs: kubectl (pointed at the cluster), curl, and the chio command (CHIO, default `chio`;
# e.g. CHIO="npx chio"). Environment:
#   CHIO_DEMO_CAPABILITY_TOKEN  a capability token from `chio token issue` (required)
#   CHIO_KEY_DIR                the directory `chio keygen` wrote (log.pub, kernel.pub)
#   VERIFIER_LOCAL_PORT         local port for the verifier port-forward (default 19093)
set -euo pipefail

TOOLS_NS="${TOOLS_NS:-agent-tools}"
CHIO_NS="${CHIO_NS:-chio-system}"
TOOL_URL="${TOOL_URL:-http://demo-tool.${TOOLS_NS}.svc.cluster.local/tools/hello}"
VERIFIER_LOCAL_PORT="${VERIFIER_LOCAL_PORT:-19093}"
read -r -a CHIO_CMD <<< "${CHIO:-chio}"

fail() {
  echo "test-harness: FAIL: $*" >&2
  exit 1
}

[[ -n "${CHIO_DEMO_CAPABILITY_TOKEN:-}" ]] || fail "set CHIO_DEMO_CAPABILITY_TOKEN (chio token issue --subject demo --grant 'POST /tools/*')"
command -v kubectl >/dev/null || fail "kubectl is not on PATH"
command -v curl >/dev/null || fail "curl is not on PATH"

# Sends one request from inside the mesh; prints the response headers, then the status code
# on a line of its own. Extra headers come on stdin (curl -H @-), so a token never appears on a
# command line.
call_tool() {
  kubectl -n "${TOOLS_NS}" exec -i deploy/mesh-client -c curl -- \
    curl -sS -o /dev/null -D - -w '\n%{http_code}\n' -X POST -H @- \
    -H 'content-type: application/json' --data '{"hello":"world"}' "${TOOL_URL}"
}

header_value() {
  # $1 = header name (lower case); reads a response from stdin.
  tr -d '\r' | awk -v name="$1" 'tolower($1) == name ":" { print $2; exit }'
}

echo "test-harness: waiting for the demo workload"
kubectl -n "${TOOLS_NS}" rollout status deploy/demo-tool --timeout=120s >/dev/null
kubectl -n "${TOOLS_NS}" rollout status deploy/mesh-client --timeout=120s >/dev/null

echo "test-harness: POST /tools/hello with a capability token"
allow="$(printf 'x-chio-capability-token: %s\n' "${CHIO_DEMO_CAPABILITY_TOKEN}" | call_tool)"
allow_status="$(tail -n 1 <<< "${allow}")"
[[ "${allow_status}" == "200" ]] || fail "expected 200 with a capability token, got ${allow_status}: $(header_value x-chio-denial-reason <<< "${allow}")"
receipt_id="$(header_value x-chio-receipt-id <<< "${allow}")"
[[ "${receipt_id}" =~ ^[0-9a-f]{64}$ ]] || fail "the allow carries no x-chio-receipt-id header"
echo "  200, receipt ${receipt_id}"

echo "test-harness: POST /tools/hello without credentials"
deny="$(call_tool < /dev/null)"
deny_status="$(tail -n 1 <<< "${deny}")"
[[ "${deny_status}" == "403" ]] || fail "expected 403 without credentials, got ${deny_status}"
echo "  403"

echo "test-harness: chio prove ${receipt_id}"
kubectl -n "${CHIO_NS}" port-forward svc/chio-verifier "${VERIFIER_LOCAL_PORT}:9093" >/dev/null 2>&1 &
port_forward=$!
trap 'kill "${port_forward}" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:${VERIFIER_LOCAL_PORT}/health" >/dev/null 2>&1 && break
  sleep 0.2
done
"${CHIO_CMD[@]}" prove "${receipt_id}" --url "http://127.0.0.1:${VERIFIER_LOCAL_PORT}" --wait 10000 \
  || fail "chio prove did not verify receipt ${receipt_id}"

echo "test-harness: PASS"
