/**
 * Splits a byte or text stream into lines, yielding one array of lines per input chunk: awaiting
 * once per line costs more than the split itself on large files.
 */

/**
 * Yields the lines of `input` in order, in arrays (one per input chunk that completes a line).
 * Blank lines are kept so callers can count line numbers. `\n` and `\r\n` both end a line, a
 * leading byte order mark is dropped, and invalid UTF-8 becomes U+FFFD. A last line without a
 * newline is yielded too.
 */
export async function* readLineBatches(input: AsyncIterable<Uint8Array | string>): AsyncGenerator<string[]> {
  const decoder = new TextDecoder('utf-8');
  let partial = '';
  let atStart = true;

  for await (const chunk of input) {
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (text === '') continue;
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    if (lines.length === 0) continue;
    if (atStart) {
      lines[0] = stripByteOrderMark(lines[0]!);
      atStart = false;
    }
    yield lines.map(stripCarriageReturn);
  }

  let last = partial + decoder.decode();
  if (atStart) last = stripByteOrderMark(last);
  if (last !== '') yield [stripCarriageReturn(last)];
}

function stripCarriageReturn(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

function stripByteOrderMark(line: string): string {
  return line.startsWith('\uFEFF') ? line.slice(1) : line;
}
