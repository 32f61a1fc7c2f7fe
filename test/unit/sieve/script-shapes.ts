// Valid Sieve scripts of a given size in bytes (about), one per shape that
// stresses the parser differently. Used by hostile-compile.test.ts and
// bench/sieve.ts. `salt` makes texts differ (compile() caches by text).

export type ScriptShape = 'rules' | 'long-string' | 'deep-nesting' | 'header-lists' | 'comments';
export const scriptShapes: ScriptShape[] = ['rules', 'long-string', 'deep-nesting', 'header-lists', 'comments'];

const HEAD = 'require ["fileinto", "imap4flags", "variables"];\n';

function fill(size: number, salt: string, piece: (i: number) => string, tail = ''): string {
  const parts = [HEAD, `# ${salt}\n`];
  let len = parts[0]!.length + parts[1]!.length + tail.length;
  for (let i = 0; len < size; i++) {
    const p = piece(i);
    parts.push(p);
    len += p.length;
  }
  parts.push(tail);
  return parts.join('');
}

export function scriptOfShape(shape: ScriptShape, size: number, salt = '', nestingLimit = 32): string {
  switch (shape) {
    case 'rules':
      return fill(size, salt, (i) => `if header :contains ["subject", "x-list-id"] ["word${i}", "other ${i}"] { fileinto "Box${i}"; addflag "\\\\Seen"; stop; }\n`);
    case 'long-string': {
      // One huge quoted string (with escapes) and one huge multi-line string.
      const half = Math.max(0, Math.floor(size / 2) - 50);
      const quoted = 'abc \\" def \\\\ ghi '.repeat(Math.ceil(half / 10)).slice(0, half).replace(/\\+$/, '');
      const lines: string[] = [];
      for (let i = 0, len = 0; len < half; i++) {
        lines.push((i % 5 === 0 ? '..dot-stuffed line ' : 'a line of the multi-line string ') + i);
        len += lines[i]!.length + 2;
      }
      const multi = lines.join('\r\n');
      return `${HEAD}# ${salt}\nset "big" "${quoted}";\nset "text" text:\r\n${multi}\r\n.\r\n;\n`;
    }
    case 'deep-nesting': {
      // Towers of blocks and tests nested as deep as the limit allows.
      const depth = nestingLimit;
      const tower = `${'if true {\n'.repeat(depth)}keep;\n${'}\n'.repeat(depth)}`;
      const test = `if ${'not '.repeat(depth - 1)}false { stop; }\n`;
      return fill(size, salt, (i) => (i % 2 === 0 ? tower : test));
    }
    case 'header-lists':
      return fill(size, salt, (i) => {
        const names = Array.from({ length: 50 }, (_, k) => `"x-h${i}-${k}"`).join(', ');
        return `if header :is [${names}] ["v${i}", "w${i}"] { addflag "$H${i}"; }\n`;
      });
    case 'comments':
      return fill(size, salt, (i) => (i % 2 === 0 ? `# comment line ${i} with some words in it, not code: if { [ " \n` : `/* a bracket comment ${i}\n   over two lines */ keep;\n`));
  }
}
