#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real (Postfix, and later PostgreSQL,
# clamd, Pigeonhole, Chromium) when they are missing. Idempotent; a no-op when all are present.
# Needs root for apt-get; without root it only reports what is missing.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; }
have /usr/sbin/postfix || need+=(postfix)
have /usr/sbin/smtp-sink || need+=(postfix)
have sieve-test || need+=(dovecot-sieve dovecot-core)
have swaks || need+=(swaks)

if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: missing Debian packages (${need[*]}) and not root; related tests will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# Postfix must not configure or start a system instance: tests run private instances.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
if [ ! -d /var/lib/apt/lists ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ]; then
  apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || {
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}
