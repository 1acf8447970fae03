#!/usr/bin/env bash
# Regenerates deploy/skua.yaml from the Helm chart's defaults (release "skua", namespace
# "observability"). tests/e2e/test_helm.py fails when the file is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
{
  echo "# Plain Kubernetes manifests for Skua, rendered from helm/skua with its default values:"
  echo "#   scripts/render-deploy.sh   (helm template skua helm/skua --namespace observability)"
  echo "# Apply with: kubectl create namespace observability && kubectl apply -n observability -f deploy/skua.yaml"
  scripts/helm.sh template skua helm/skua --namespace observability
} > deploy/skua.yaml
