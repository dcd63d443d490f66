#!/usr/bin/env bash
# Runs every test of the repository: formatting, vet, go mod tidy, staticcheck, workflow lint,
# the unit and integration tests of every module, the rendered Kubernetes manifests against an
# in-process kube-apiserver (tests/kubeapi), the concurrent packages again under -race,
# and short fuzz runs. Integration tests use PostgreSQL and Redis when
# reachable (TEST_DATABASE_URL, TEST_REDIS_URL) and skip otherwise, except under CI=true, where
# an unreachable server fails them. Usage: bash tests/all.sh   (FUZZTIME=30s for longer fuzzing)
set -uo pipefail
cd "$(dirname "$0")/.."

FUZZTIME="${FUZZTIME:-5s}"
PKGS=(./components/... ./stacks/... ./infra/... ./services/... ./tests/...)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
step() { printf '\n== %s (at %ds)\n' "$*" "$SECONDS"; }

step "gofmt"
unformatted=$(gofmt -l components stacks infra services tests)
if [ -n "$unformatted" ]; then
	echo "not gofmt-ed:"; echo "$unformatted"; status=1
fi

step "go vet"
go vet "${PKGS[@]}" || status=1
# tests/kubeapi is a module of its own outside go.work (k8s.io/kubernetes stays out of the others).
(cd tests/kubeapi && GOWORK=off go vet ./...) || status=1

# Every module's go.mod and go.sum must already be what go mod tidy writes.
step "go mod tidy"
for mod in components infra services stacks tests tests/kubeapi; do
	(cd "$mod" && GOWORK=off go mod tidy -diff) || { echo "$mod: go.mod or go.sum is not tidy (run go mod tidy there)"; status=1; }
done

step "staticcheck"
(cd tests && go tool staticcheck ../components/... ../stacks/... ../infra/... ../services/... ./...) || status=1
# The same staticcheck binary (tests/go.mod's tool) on the module outside the workspace.
staticcheck=$(cd tests && go tool -n staticcheck) && (cd tests/kubeapi && GOWORK=off "$staticcheck" ./...) || status=1

if [ -d .github/workflows ]; then
	step "actionlint"
	(cd tests && go tool actionlint -no-color ../.github/workflows/*.yml) || status=1
fi

step "go test"
go test -count=1 -timeout 30m "${PKGS[@]}" 2>&1 | tee "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

# Kubernetes manifests of both stacks, rendered by the plan, against a real kube-apiserver in
# process (Pod Security Admission enforcing restricted) and the offline checks (tests/kubeapi).
step "kube-apiserver: the manifests of both stacks"
manifests=$(mktemp -d)
trap 'rm -rf "$log" "$manifests"' EXIT
go build -o "$manifests/plan" ./infra/cmd/plan || status=1
for stack in prod staging; do
	"$manifests/plan" --stack "$stack" --manifests "$manifests/$stack" >/dev/null || { echo "plan --stack $stack --manifests failed"; status=1; }
done
(cd tests/kubeapi && KUBEAPI_MANIFESTS="$manifests/prod,$manifests/staging" GOWORK=off go test -count=1 -timeout 20m ./...) 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

# tests/observability is a module of its own, outside go.work: the Prometheus module it needs
# (rule evaluation, the PromQL parser) would raise shared dependencies of every workspace
# module. Its tidy check, vet, staticcheck and tests: the alerting rules evaluated on series
# and the binding test (every metric a rule or dashboard reads is exported).
step "tests/observability (own module, GOWORK=off)"
staticcheck_bin=$(cd tests && go tool -n staticcheck)
(cd tests/observability && export GOWORK=off && go mod tidy -diff && go vet ./... && "$staticcheck_bin" ./...) || status=1
(cd tests/observability && GOWORK=off go test -count=1 -timeout 30m ./...) 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

# The packages with concurrency once more under the race detector: the group commit, the rate
# limiter, the consumers, the engine service and the composed platform (in process: the SIGKILL
# tests run separate binaries, so the detector in the test process would see nothing of them).
RACE_PKGS=(./services/exchange ./services/redis/... ./services/kafka/... ./services/settlement/... ./services/risk/... ./services/matchingsvc/... ./services/flow/... ./services/cmd/cantondex)
step "go test -race"
# (their passes were counted above: "race ok" lines do not count again, failures do)
go test -race -count=1 -timeout 30m -skip 'SIGKILL' "${RACE_PKGS[@]}" 2>&1 | sed -E 's/^ok /race ok /' | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

# Fuzz targets: each runs for FUZZTIME on top of its seed corpus (which go test above already ran).
FUZZ_TARGETS=(
	"./services/decimal FuzzRoundTrip"
	"./services/matching FuzzBook"
	"./services/matching/journal FuzzDecode"
	"./services/gateway/http FuzzDecode"
	"./services/auth FuzzAuthenticate"
	"./services/auth FuzzSignatureHeaders"
)
for entry in "${FUZZ_TARGETS[@]}"; do
	read -r pkg target <<<"$entry"
	step "fuzz $target ($pkg, $FUZZTIME)"
	go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1 | tail -3 | tee -a "$log"
	[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
done

passed=$(grep -cE '^ok[[:space:]]' "$log" || true)
failed=$(grep -cE '^FAIL[[:space:]]' "$log" || true)
failed_tests=$(grep -cE '^[[:space:]]*--- FAIL' "$log" || true)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo
echo "packages: $passed passed, $failed failed; failing tests: $failed_tests; ${SECONDS}s"
exit "$status"
