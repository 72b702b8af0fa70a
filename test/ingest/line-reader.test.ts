// Proves that NDJSON input is split into the same lines whatever its chunk boundaries are.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { readLineBatches } from '../../functions/ingest/line-reader.js';

async function* chunks<T>(...parts: T[]): AsyncGenerator<T> {
  for (const part of parts) yield part;
}

async function collect(input: AsyncIterable<Uint8Array | string>): Promise<string[]> {
  const lines: string[] = [];
  for await (const batch of readLineBatches(input)) lines.push(...batch);
  return lines;
}

describe('readLineBatches', () => {
  it('splits on LF and CRLF and keeps blank lines', async () => {
    const lines = await collect(chunks('a\r\n\nb\n', 'c'));

    expect(lines).toEqual(['a', '', 'b', 'c']);
  });

  it('drops a leading byte order mark from text and bytes', async () => {
    expect(await collect(chunks('\uFEFF{"a":1}\n'))).toEqual(['{"a":1}']);
    expect(await collect(chunks(Buffer.from('\uFEFF{"a":1}\n')))).toEqual(['{"a":1}']);
  });

  it('yields nothing for empty input', async () => {
    expect(await collect(chunks<string>())).toEqual([]);
    expect(await collect(chunks(''))).toEqual([]);
  });

  it('yields one array per chunk, not one await per line', async () => {
    const batches: string[][] = [];

    for await (const batch of readLineBatches(chunks('1\n2\n3\n', '4\n5'))) batches.push(batch);

    expect(batches).toEqual([['1', '2', '3'], ['4'], ['5']]);
  });

  it('gives the same lines for any split of the bytes', async () => {
    const text = '{"name":"Zoë"}\r\n\n{"city":"東京"}\n{"emoji":"😀"}\n';
    const bytes = Buffer.from(text, 'utf8');
    const cuts = fc.uniqueArray(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 8 });

    await fc.assert(
      fc.asyncProperty(cuts, async (positions) => {
        const sorted = [0, ...positions.sort((a, b) => a - b), bytes.length];
        const parts = sorted.slice(1).map((end, i) => bytes.subarray(sorted[i], end));

        const lines = await collect(chunks(...parts));

        expect(lines).toEqual(['{"name":"Zoë"}', '', '{"city":"東京"}', '{"emoji":"😀"}']);
      }),
    );
  });
});
