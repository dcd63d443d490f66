#!/usr/bin/env bash
# Usage: set-images.sh DIGESTS.json   (STACK set)
# Sets the stack setting cantondex:images.<service> to each digest of DIGESTS.json, the
# {"<service>": "sha256:<64 hex>"} object `go run ./infra/cmd/images --digests-out` writes (or
# the stack output `images` of an earlier release), with one `pulumi config set-all`.
set -euo pipefail
file=$1
: "${STACK:?STACK must name the Pulumi stack}"
args=()
while IFS=$'\t' read -r svc digest; do
	if [[ ! $digest =~ ^sha256:[0-9a-f]{64}$ ]]; then
		echo "$file: $svc: \"$digest\" is not sha256:<64 hex>" >&2
		exit 1
	fi
	args+=(--plaintext "cantondex:images.${svc}=${digest}")
done < <(jq -r 'to_entries[] | [.key, .value] | @tsv' "$file")
if [ ${#args[@]} -eq 0 ]; then
	echo "$file: no digests" >&2
	exit 1
fi
pulumi config set-all --stack "$STACK" --path "${args[@]}"
pulumi config get cantondex:images --stack "$STACK"
