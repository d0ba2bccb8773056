#!/bin/sh
# Creates the lead workflows' namespace if it is missing and registers the search attributes
# the lead workflow upserts (workflows/search-attributes.ts; a test keeps this list in step).
# Safe to rerun: what exists is left alone.
set -eu
ns="${TEMPORAL_NAMESPACE:-default}"

tries=0
until temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; do
  temporal operator namespace create --namespace "$ns" --retention 720h >/dev/null 2>&1 || true
  tries=$((tries + 1))
  if [ "$tries" -ge 30 ]; then
    echo "namespace $ns did not become available" >&2
    exit 1
  fi
  sleep 2
done

register() {
  if temporal operator search-attribute list --namespace "$ns" | grep -qw "$1"; then
    echo "search attribute $1: already registered"
  else
    temporal operator search-attribute create --namespace "$ns" --name "$1" --type "$2"
  fi
}

register LeadStage Keyword
register LeadScore Int
register LeadSequence Keyword
register LeadReviewCount Int
register LeadUnsubscribed Bool
register LeadOwner Keyword
register LeadGrade Keyword
echo "namespace $ns: ready"
