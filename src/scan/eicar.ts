// The EICAR test file, and the messages the antivirus self-test pushes
// through the scanning stage: EICAR plain, zipped, and inside a nested
// message/rfc822. The string is kept as hex so that no file of ours is
// itself "infected" on disk; the zip is written here (deflated, so clamd
// must really unpack it to find the string).
import { crc32, deflateRawSync } from 'node:zlib';

const EICAR_HEX =
  '58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a';

export function eicar(): Buffer {
  return Buffer.from(EICAR_HEX, 'hex');
}

/** A one-file zip archive, deflated (PKWARE APPNOTE 4.3: local header, data, central directory, end record). */
export function zipOf(name: string, data: Buffer): Buffer {
  const nameBytes = Buffer.from(name, 'latin1');
  const packed = deflateRawSync(data);
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
  local.writeUInt16LE(0, 6); // flags
  local.writeUInt16LE(8, 8); // method: deflate
  local.writeUInt16LE(0, 10); // time
  local.writeUInt16LE(0x21, 12); // date: 1980-01-01
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(packed.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(nameBytes.length, 26);
  local.writeUInt16LE(0, 28);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4); // made by
  central.writeUInt16LE(20, 6); // needed
  central.writeUInt16LE(0, 8);
  central.writeUInt16LE(8, 10);
  central.writeUInt16LE(0, 12);
  central.writeUInt16LE(0x21, 14);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(packed.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(nameBytes.length, 28);
  // extra, comment, disk, internal and external attributes: 0; local header offset: 0.
  const centralOffset = local.length + nameBytes.length + packed.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + nameBytes.length, 12);
  end.writeUInt32LE(centralOffset, 16);
  return Buffer.concat([local, nameBytes, packed, central, nameBytes, end]);
}

function base64Lines(data: Buffer): string {
  return (data.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

const HEAD = 'From: Postino antivirus self-test <postmaster@localhost>\r\nTo: <postmaster@localhost>\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\nMIME-Version: 1.0\r\n';

/** A message carrying `name` (base64) as an attachment. */
export function messageWithAttachment(subject: string, name: string, type: string, data: Buffer): Buffer {
  return Buffer.from(
    `${HEAD}Subject: ${subject}\r\nContent-Type: multipart/mixed; boundary="att-b"\r\n\r\n` +
      '--att-b\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n' +
      `--att-b\r\nContent-Type: ${type}; name="${name}"\r\nContent-Disposition: attachment; filename="${name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n` +
      `${base64Lines(data)}\r\n--att-b--\r\n`,
    'latin1',
  );
}

/** `inner` forwarded as a message/rfc822 part. */
export function messageForwarding(subject: string, inner: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(
      `${HEAD}Subject: ${subject}\r\nContent-Type: multipart/mixed; boundary="fwd-b"\r\n\r\n` +
        '--fwd-b\r\nContent-Type: text/plain\r\n\r\nForwarded message below.\r\n' +
        '--fwd-b\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n',
      'latin1',
    ),
    inner,
    Buffer.from('\r\n--fwd-b--\r\n', 'latin1'),
  ]);
}

/** The self-test's three cases: each must come back infected. */
export function selfTestMessages(): Array<{ name: 'plain' | 'zipped' | 'nested'; raw: Buffer }> {
  const file = eicar();
  return [
    { name: 'plain', raw: Buffer.concat([Buffer.from(`${HEAD}Subject: antivirus self-test (plain)\r\nContent-Type: text/plain\r\n\r\n`, 'latin1'), file, Buffer.from('\r\n')]) },
    { name: 'zipped', raw: messageWithAttachment('antivirus self-test (zipped)', 'eicar.zip', 'application/zip', zipOf('eicar.com', file)) },
    {
      name: 'nested',
      raw: messageForwarding('antivirus self-test (nested)', messageWithAttachment('inner', 'eicar.com', 'application/octet-stream', file)),
    },
  ];
}
