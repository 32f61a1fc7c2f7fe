// The systemd unit of `postino serve`, made for one installation's paths.
// contrib/systemd/postino.service is this with the default paths (a test keeps
// them the same); `postino install-systemd` writes it with this checkout's.

export interface SystemdUnitOptions {
  /** The node binary. */
  node: string;
  /** bin/postino.cjs of the installation. */
  cli: string;
  dataDir: string;
  /** A config file outside the data dir, if any. */
  config?: string;
  user: string;
  group: string;
}

export const DEFAULT_UNIT_OPTIONS: SystemdUnitOptions = {
  node: '/usr/bin/node',
  cli: '/opt/postino/bin/postino.cjs',
  dataDir: '/var/lib/postino',
  user: 'postino',
  group: 'postino',
};

/** systemd takes a path in ExecStart= as is; one with a space or a quote would need escaping: refused instead. */
function plainPath(label: string, value: string): string {
  if (!/^\/[A-Za-z0-9._/+@-]*$/.test(value)) throw new Error(`${label}: ${JSON.stringify(value)} must be an absolute path of letters, digits and ._/+@-`);
  return value;
}

export function renderSystemdUnit(o: SystemdUnitOptions): string {
  const node = plainPath('node', o.node);
  const cli = plainPath('cli', o.cli);
  const dataDir = plainPath('--data', o.dataDir);
  const config = o.config === undefined ? '' : ` --config ${plainPath('--config', o.config)}`;
  if (!/^[a-z_][a-z0-9_.-]{0,31}$/i.test(o.user) || !/^[a-z_][a-z0-9_.-]{0,31}$/i.test(o.group)) throw new Error('user and group must be plain account names');
  // An installation under /home or /root must stay readable to the service.
  const home = /^\/(home|root)(\/|$)/.test(cli) || /^\/(home|root)(\/|$)/.test(node) ? 'read-only' : 'yes';
  return `# Postino: the mail server (SMTP MX, LMTP, submission, IMAP, POP3, ManageSieve, admin).
# Install: postino install-systemd (or copy this file to /etc/systemd/system/),
# then: systemctl daemon-reload && systemctl enable --now postino
[Unit]
Description=Postino mail server
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=${o.user}
Group=${o.group}
ExecStart=${node} ${cli} serve --data ${dataDir}${config}
# SIGHUP: the config and the TLS certificate are read again; open sessions go on.
ExecReload=/bin/kill -HUP $MAINPID
# SIGTERM: sessions finish what they are doing (at most a few seconds), then exit 0.
KillSignal=SIGTERM
TimeoutStopSec=30
Restart=on-failure
RestartSec=5
# One file per message and a socket per client: more than the default 1024.
LimitNOFILE=65536
UMask=0077

# Ports 25, 110, 143, 465, 587, 993, 995 without root.
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes

# The whole system read-only but the data dir.
ProtectSystem=strict
ReadWritePaths=${dataDir}
ProtectHome=${home}
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
`;
}
