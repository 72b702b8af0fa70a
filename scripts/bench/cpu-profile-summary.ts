/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`) by where the CPU time went: self time grouped by
 * npm package or by folder of this repository, optionally within a time window.
 *
 *   npx tsx scripts/bench/cpu-profile-summary.ts FILE.cpuprofile [--from SECONDS] [--to SECONDS] [--top N]
 *
 * --from and --to are seconds since the profile started, which is within a few milliseconds of
 * process start, so the `[12.3 s]` progress lines of `bench:export` give the phase windows.
 * Time in Node internals and native frames (JSON.parse, crypto, sockets) is charged to the nearest
 * calling frame that belongs to a package or to the repository, because that caller decided to
 * spend it. GC, idle and program time are listed as they are.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  /** Microseconds. */
  readonly startTime: number;
  readonly samples: readonly number[];
  /** Microseconds between samples. */
  readonly timeDeltas: readonly number[];
}

const REPOSITORY_FOLDERS = /\/(functions\/[a-z-]+|infra\/local|infra|scripts\/bench|scripts)\/[^/]+$/;

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      from: { type: 'string', default: '0' },
      to: { type: 'string', default: 'Infinity' },
      top: { type: 'string', default: '20' },
    },
  });
  if (positionals.length !== 1) {
    console.error('Usage: npx tsx scripts/bench/cpu-profile-summary.ts FILE.cpuprofile [--from SECONDS] [--to SECONDS] [--top N]');
    process.exitCode = 2;
    return;
  }
  const from = Number(values.from);
  const to = Number(values.to);
  const top = Number(values.top);
  if (Number.isNaN(from) || Number.isNaN(to) || !Number.isInteger(top) || top < 1) {
    console.error(`Invalid --from ${values.from}, --to ${values.to} or --top ${values.top}: expected numbers, --top a positive integer`);
    process.exitCode = 2;
    return;
  }

  const profile = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as CpuProfile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);

  const categories = new Map<number, string>();
  const categoryOf = (id: number): string => {
    const known = categories.get(id);
    if (known !== undefined) return known;
    const node = nodes.get(id)!;
    let category = categorize(node.callFrame.url);
    if (category === undefined) {
      const parent = parents.get(id);
      const inherited = parent === undefined ? undefined : categoryOf(parent);
      category = inherited === undefined || inherited === '(root)' ? node.callFrame.functionName || '(root)' : inherited;
    }
    categories.set(id, category);
    return category;
  };

  const microsByCategory = new Map<string, number>();
  let time = profile.startTime;
  let total = 0;
  profile.samples.forEach((sample, index) => {
    const delta = profile.timeDeltas[index]!;
    time += delta;
    const seconds = (time - profile.startTime) / 1e6;
    if (seconds < from || seconds > to) return;
    const category = categoryOf(sample);
    microsByCategory.set(category, (microsByCategory.get(category) ?? 0) + delta);
    total += delta;
  });

  console.log(`Window ${from}-${to} s: ${(total / 1e6).toFixed(1)} s of samples`);
  const sorted = [...microsByCategory].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [category, micros] of sorted) {
    console.log(`${(micros / 1e3).toFixed(0).padStart(8)} ms ${((100 * micros) / total).toFixed(1).padStart(5)}%  ${category}`);
  }
}

/** Returns the npm package or repository folder of a script URL, or undefined for Node internals and native code. */
function categorize(url: string): string | undefined {
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(url);
  if (packageMatch) return packageMatch[1];
  if (url.startsWith('file://')) {
    const folder = REPOSITORY_FOLDERS.exec(url);
    return folder ? `repo: ${folder[1]}` : 'repo: other';
  }
  return undefined;
}

main();
