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
# PostgreSQL server binaries live off PATH in Debian's versioned folder.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
have /usr/sbin/clamd || need+=(clamav-daemon)
# Browser tests of the web interfaces: Debian's chromium through playwright-core, with fonts.
have /usr/bin/chromium || need+=(chromium)
ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null 2>&1 || need+=(fonts-dejavu-core)

if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: missing Debian packages (${need[*]}) and not root; related tests will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# Postfix must not configure or start a system instance: tests run private instances.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
# Nor may package scripts start system PostgreSQL, clamd or freshclam: tests start their own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
if [ ! -d /var/lib/apt/lists ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ]; then
  apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || {
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}
