#!/usr/bin/env bash
# GET https://$API_HOSTNAME/api/v1/markets through the ALB of the api-gateway Ingress (namespace
# $NAMESPACE): a public route that reads the database, so a 200 with a JSON list proves the
# ALB, TLS, the WAF, the gateway and its data path (the probes /health and /ready are on the
# operations port, which the ALB only health-checks). The TLS certificate is checked against
# API_HOSTNAME while the connection goes to the ALB's own DNS name, so the check needs no DNS
# record to have propagated.
set -euo pipefail
ns=${NAMESPACE:-cantondex}
: "${API_HOSTNAME:?API_HOSTNAME must be the name of the ALB certificate (environment variable)}"
alb=$(kubectl -n "$ns" get ingress -l app.kubernetes.io/name=api-gateway -o jsonpath='{.items[0].status.loadBalancer.ingress[0].hostname}')
if [ -z "$alb" ]; then
	echo "::error::the api-gateway Ingress in $ns has no load balancer hostname"
	exit 1
fi
body=$(curl --fail --silent --show-error --max-time 10 --retry 30 --retry-delay 10 --retry-all-errors \
	--connect-to "$API_HOSTNAME:443:$alb:443" "https://$API_HOSTNAME/api/v1/markets")
case "$body" in
"{"* | "["*) ;;
*)
	echo "::error::https://$API_HOSTNAME/api/v1/markets did not answer JSON"
	exit 1
	;;
esac
echo "https://$API_HOSTNAME/api/v1/markets answered through $alb"
