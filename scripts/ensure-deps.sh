#!/usr/bin/env bash
# Installs what Postino's tests need when it is missing: Debian packages for
# the real peers (Dovecot, Postfix, ClamAV, SpamAssassin, rspamd, clients), then npm ci.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  swaks sieve-connect curl isync fetchmail
  dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd dovecot-sieve dovecot-managesieved
  postfix clamav-daemon clamav-testfiles spamassassin spamc rspamd
  postgresql chromium prometheus
)

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "ensure-deps: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y "${missing[@]}"
fi

# npm ci when node_modules is absent or older than the lockfile.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ensure-deps: npm ci"
  npm ci
fi
