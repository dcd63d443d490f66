#!/usr/bin/env bash
# Runs every test of the repository: formatting, vet, go mod tidy, staticcheck, workflow lint,
# the unit and integration tests of every module, the rendered Kubernetes manifests against a
# real kube-apiserver (tests/kubeapi) and the alerting rules and their binding to the
# exported metrics (tests/observability), the concurrent packages again under -race, and short
# fuzz runs. Integration tests use PostgreSQL and Redis when
# reachable (TEST_DATABASE_URL, TEST_REDIS_URL) and skip otherwise, except under CI=true, where
# an unreachable server fails them. Usage: bash tests/all.sh   (FUZZTIME=5000000x for longer fuzzing)
set -uo pipefail
cd "$(dirname "$0")/.."

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

# tests/kubeapi (the rendered manifests of both stacks against kube-apiserver and etcd, built
# from k8s.io/kubernetes and etcd as the module's tools, Pod Security Admission enforcing
# restricted, and the offline checks) and tests/observability (Prometheus: the alerting rules evaluated on series, and the
# binding test: every metric a rule or dashboard reads is exported) are modules of their own,
# outside go.work, so that their dependencies never reach the others. They are the heaviest
# builds on a cold cache, so their whole pipeline (tidy, vet, staticcheck, tests) runs in the
# background from here, beside the workspace's steps, which often wait on servers and
# processes; its output is printed and counted at the end.
step "start tests/kubeapi and tests/observability in the background"
side=$(mktemp -d)
trap 'kill "${side_pid:-}" 2>/dev/null; rm -rf "$log" "$side"' EXIT
staticcheck_bin=$(cd tests && go tool -n staticcheck)
(
	st=0
	for mod in tests/kubeapi tests/observability; do
		echo "-- $mod: tidy, vet, staticcheck"
		(cd "$mod" && export GOWORK=off &&
			{ go mod tidy -diff || { echo "$mod: go.mod or go.sum is not tidy (run GOWORK=off go mod tidy there)"; false; }; } &&
			go vet ./... && "$staticcheck_bin" ./...) || st=1
		# tests/kubeapi reads the manifests of both stacks, which the foreground renders with
		# the plan below (on a cold cache long before vet and staticcheck here are done). The
		# test binaries are built by go test itself: building them beforehand linked each twice
		# and ran tests/observability's TestMain, which builds and starts the platform, once more.
		while [ ! -e "$side/manifests.done" ]; do sleep 1; done
		echo "-- $mod: tests"
		(cd "$mod" && KUBEAPI_MANIFESTS="$side/prod,$side/staging" GOWORK=off go test -vet=off -count=1 -timeout 30m ./...) || st=1
	done
	echo "$st" > "$side/status"
) > "$side/out.log" 2>&1 &
side_pid=$!
# Every Kubernetes object of both stacks, as the plan renders it, for tests/kubeapi.
go build -o "$side/plan" ./infra/cmd/plan || status=1
for stack in prod staging; do
	"$side/plan" --stack "$stack" --manifests "$side/$stack" >/dev/null || { echo "plan --stack $stack --manifests failed"; status=1; }
done
touch "$side/manifests.done"

step "go vet"
go vet "${PKGS[@]}" || status=1

# Every module's go.mod and go.sum must already be what go mod tidy writes.
step "go mod tidy"
for mod in components infra services stacks tests; do
	(cd "$mod" && GOWORK=off go mod tidy -diff) || { echo "$mod: go.mod or go.sum is not tidy (run go mod tidy there)"; status=1; }
done

step "staticcheck"
(cd tests && go tool staticcheck ../components/... ../stacks/... ../infra/... ../services/... ./...) || status=1

if [ -d .github/workflows ]; then
	step "actionlint"
	(cd tests && go tool actionlint -no-color ../.github/workflows/*.yml) || status=1
fi

# The packages with concurrency once more under the race detector: the group commit, the rate
# limiter, the consumers, the engine service and the composed platform (in process: the SIGKILL
# tests run separate binaries, so the detector in the test process would see nothing of them).
RACE_PKGS=(./services/exchange ./services/redis/... ./services/kafka/... ./services/settlement/... ./services/risk/... ./services/matchingsvc/... ./services/flow/... ./services/cmd/cantondex ./services/notification/...)

# Fuzz targets, on top of their seed corpus (which go test runs). Each gets a
# budget of executions, about 5 s of fuzzing here, not a duration: with a duration, Go 1.26's
# fuzzing coordinator can report "context deadline exceeded" at the deadline on a busy machine
# without any failing input (golang/go#75804, fixed in Go 1.27). FUZZTIME (a count such as
# 2000000x, or a duration) overrides every budget.
FUZZ_TARGETS=(
	"./services/decimal FuzzRoundTrip 300000x"
	"./services/matching FuzzBook 40000x"
	"./services/matching/journal FuzzDecode 100000x"
	"./services/kafka/command FuzzDecode 20000x"
	"./services/gateway/http FuzzDecode 30000x"
	"./services/gateway/http FuzzDecodeOrder 30000x"
	"./services/auth FuzzAuthenticate 250000x"
	"./services/auth FuzzSignatureHeaders 200000x"
	"./services/compliance/screening FuzzScreen 20000x"
)
# The race and fuzz builds (each instruments every package of its test binaries, so each
# compiles the dependencies once more) are made beside go test, which waits on servers and
# processes for much of its run (about 1.3 of the 2 cores busy), at a lower priority than the
# tests; the race and fuzz steps below then find their packages compiled.
prebuild() {
	# go list -export compiles the race test binaries' packages into the build cache, with
	# the very actions go test -race takes, and links nothing.
	nice -n 15 go list -race -test -export -deps -f '{{with .Error}}{{.}}{{end}}' "${RACE_PKGS[@]}"
	local entry pkg target budget built=" "
	for entry in "${FUZZ_TARGETS[@]}"; do
		read -r pkg target budget <<<"$entry"
		[[ "$built" == *" $pkg "* ]] && continue # one build serves every target of a package
		built+="$pkg "
		nice -n 15 go test -c -fuzz "^${target}\$" -o "$side/fuzz/" "$pkg" >/dev/null
	done
}

# go test's own vet pass (a subset of the analyzers, keyed apart from go vet's) would analyse
# every package and every dependency once more for each build mode; go vet above ran all of
# them already, so the test runs skip it (-vet=off).
step "go test"
prebuild > "$side/prebuild.log" 2>&1 &
prebuild_pid=$!
go test -vet=off -count=1 -timeout 30m "${PKGS[@]}" 2>&1 | tee "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

# A failed prebuild is reported by the steps below, which build again.
wait "$prebuild_pid" || echo "(prebuilding the race and fuzz test binaries failed: $(tail -3 "$side/prebuild.log"))"
step "go test -race"
# (their passes were counted above: "race ok" lines do not count again, failures do)
go test -vet=off -race -count=1 -timeout 30m -skip 'SIGKILL' "${RACE_PKGS[@]}" 2>&1 | sed -E 's/^ok /race ok /' | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

for entry in "${FUZZ_TARGETS[@]}"; do
	read -r pkg target budget <<<"$entry"
	budget="${FUZZTIME:-$budget}"
	step "fuzz $target ($pkg, $budget)"
	go test -vet=off -run '^$' -fuzz "^${target}\$" -fuzztime "$budget" "$pkg" 2>&1 | tail -6 | tee -a "$log"
	[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
done

# The two modules outside the workspace, started in the background after gofmt and still
# running beside -race and the fuzzing above, which keep both cores busy while their tests wait
# on etcd, the API server and the platform: print what they did and count their results with
# the rest.
step "tests/kubeapi and tests/observability (own modules, GOWORK=off)"
wait "$side_pid"
cat "$side/out.log"
cat "$side/out.log" >> "$log"
[ "$(cat "$side/status" 2>/dev/null)" = 0 ] || { echo "tests/kubeapi or tests/observability failed"; status=1; }

passed=$(grep -cE '^ok[[:space:]]' "$log" || true)
failed=$(grep -cE '^FAIL[[:space:]]' "$log" || true)
failed_tests=$(grep -cE '^[[:space:]]*--- FAIL' "$log" || true)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo
echo "packages: $passed passed, $failed failed; failing tests: $failed_tests; ${SECONDS}s"
exit "$status"
