#!/usr/bin/env bash
# GET https://$API_HOSTNAME/health through the ALB of the api-gateway Ingress (namespace
# $NAMESPACE): the TLS certificate is checked against API_HOSTNAME while the connection goes to
# the ALB's own DNS name, so the check needs no DNS record to have propagated.
set -euo pipefail
ns=${NAMESPACE:-cantondex}
: "${API_HOSTNAME:?API_HOSTNAME must be the name of the ALB certificate (environment variable)}"
alb=$(kubectl -n "$ns" get ingress -l app.kubernetes.io/name=api-gateway -o jsonpath='{.items[0].status.loadBalancer.ingress[0].hostname}')
if [ -z "$alb" ]; then
	echo "::error::the api-gateway Ingress in $ns has no load balancer hostname"
	exit 1
fi
curl --fail --silent --show-error --max-time 10 --retry 30 --retry-delay 10 --retry-all-errors \
	--connect-to "$API_HOSTNAME:443:$alb:443" "https://$API_HOSTNAME/health"
echo
echo "https://$API_HOSTNAME/health answered through $alb"
