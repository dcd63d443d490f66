#!/usr/bin/env bash
# Usage: check-rollout.sh DIGESTS.json   (kubectl configured for the stack's cluster)
# For every service of DIGESTS.json: its Deployments and StatefulSets (label
# app.kubernetes.io/name=<service>, namespace $NAMESPACE) run the image with that digest and
# finish `kubectl rollout status`; a Job service has a Job with that digest that completed.
# Reports every failure, then exits 1 if there was one.
set -uo pipefail
file=$1
ns=${NAMESPACE:-cantondex}
timeout=${ROLLOUT_TIMEOUT:-10m}
status=0
fail() {
	echo "::error::$*"
	status=1
}
images() { kubectl -n "$ns" get "$1" -o jsonpath='{range .spec.template.spec.containers[*]}{.image}{"\n"}{end}'; }

while IFS=$'\t' read -r svc digest; do
	workloads=$(kubectl -n "$ns" get deployments,statefulsets -l "app.kubernetes.io/name=$svc" -o name) || { fail "$svc: kubectl get"; continue; }
	jobs=$(kubectl -n "$ns" get jobs -l "app.kubernetes.io/name=$svc" -o name) || { fail "$svc: kubectl get jobs"; continue; }
	if [ -z "$workloads$jobs" ]; then
		fail "$svc: no Deployment, StatefulSet or Job labelled app.kubernetes.io/name=$svc in $ns"
		continue
	fi
	for w in $workloads; do
		if ! images "$w" | grep -q "@$digest\$"; then
			fail "$w runs $(images "$w" | tr '\n' ' '), not @$digest"
			continue
		fi
		kubectl -n "$ns" rollout status --timeout="$timeout" "$w" || fail "$w did not roll out"
	done
	if [ -n "$jobs" ]; then
		current=""
		for j in $jobs; do
			images "$j" | grep -q "@$digest\$" && current="$current $j"
		done
		if [ -z "$current" ]; then
			fail "$svc: no Job runs @$digest"
			continue
		fi
		for j in $current; do
			kubectl -n "$ns" wait --for=condition=complete --timeout="$timeout" "$j" || fail "$j did not complete"
		done
	fi
done < <(jq -r 'to_entries[] | [.key, .value] | @tsv' "$file")
exit $status
