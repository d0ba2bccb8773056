import fs from 'node:fs/promises';
import path from 'node:path';

// Where the worker's CPU time goes, from the V8 profile `node --cpu-prof` writes on exit:
// self time by package (or project folder) and the hottest functions.

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface ProfileSummary {
  file: string;
  profiledSeconds: number;
  sampledCpuSeconds: number;
  byArea: Array<{ area: string; selfMs: number; share: number }>;
  topFunctions: Array<{ function: string; area: string; selfMs: number; share: number }>;
}

/** Which package or project folder a script URL belongs to. */
export function areaOf(url: string): string {
  if (!url) return '(native / V8: GC, idle excluded)';
  if (url.startsWith('node:')) return 'node internals';
  const decoded = decodeURIComponent(url.replace(/^file:\/\//, ''));
  const modules = decoded.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const rest = decoded.slice(modules + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const match = /\/(src|workflows|activities|worker|bench)\//.exec(decoded);
  return match ? `${match[1]}/ (project)` : decoded.split('/').slice(-2).join('/');
}

/**
 * Summarises every .cpuprofile in `dir`: Node writes one per thread, and the SDK runs workflow
 * code in worker threads, so the main thread (activities, SDK core bridge) and the workflow
 * threads come out separately. Busiest first.
 */
export async function summarizeProfiles(dir: string, top = 15): Promise<ProfileSummary[]> {
  const files = (await fs.readdir(dir).catch(() => [])).filter((f) => f.endsWith('.cpuprofile'));
  const summaries = await Promise.all(
    files.map(async (f) => summarizeProfileData(JSON.parse(await fs.readFile(path.join(dir, f), 'utf8')) as CpuProfile, path.join(dir, f), top)),
  );
  return summaries.sort((a, b) => b.sampledCpuSeconds - a.sampledCpuSeconds);
}

export function summarizeProfileData(profile: CpuProfile, file: string, top = 15): ProfileSummary {
  const totalHits = profile.nodes.reduce((sum, n) => sum + (n.hitCount ?? 0), 0);
  const durationMs = (profile.endTime - profile.startTime) / 1000;
  const msPerHit = totalHits > 0 ? durationMs / totalHits : 0;
  const idle = new Set(['(idle)', '(program)']);
  const areas = new Map<string, number>();
  const functions = new Map<string, { area: string; hits: number }>();
  let busyHits = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (!hits || idle.has(node.callFrame.functionName)) continue;
    busyHits += hits;
    const area = node.callFrame.functionName === '(garbage collector)' ? 'garbage collector' : areaOf(node.callFrame.url);
    areas.set(area, (areas.get(area) ?? 0) + hits);
    const name = `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url ? `${path.basename(node.callFrame.url)}:${node.callFrame.lineNumber + 1}` : ''}`.trim();
    const entry = functions.get(name) ?? { area, hits: 0 };
    entry.hits += hits;
    functions.set(name, entry);
  }
  const share = (hits: number) => (busyHits ? Math.round((hits / busyHits) * 1000) / 10 : 0);
  return {
    file,
    profiledSeconds: Math.round(durationMs / 100) / 10,
    sampledCpuSeconds: Math.round((busyHits * msPerHit) / 100) / 10,
    byArea: [...areas.entries()].sort((a, b) => b[1] - a[1]).map(([area, hits]) => ({ area, selfMs: Math.round(hits * msPerHit), share: share(hits) })),
    topFunctions: [...functions.entries()]
      .sort((a, b) => b[1].hits - a[1].hits)
      .slice(0, top)
      .map(([fn, { area, hits }]) => ({ function: fn, area, selfMs: Math.round(hits * msPerHit), share: share(hits) })),
  };
}
