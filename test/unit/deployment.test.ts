import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { leadSearchAttributes } from '../../workflows/search-attributes.js';

// No Docker engine here: docker-compose.yml and the Dockerfile are checked statically.
const compose = parse(fs.readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')) as {
  services: Record<string, { image?: string; build?: string; command?: string[]; depends_on?: Record<string, unknown>; environment?: Record<string, string | number> }>;
};
const dockerfile = fs.readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');

describe('docker-compose.yml', () => {
  it('runs the production-shaped stack DESIGN.md names', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['postgres', 'temporal', 'temporal-ui', 'mailpit', 'api', 'worker']));
  });

  it('pins every image and only depends on services it defines', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.image) expect(service.image, name).toMatch(/:[\w.-]+$/);
      else expect(service.build, name).toBe('.');
      for (const dependency of Object.keys(service.depends_on ?? {})) expect(Object.keys(compose.services), `${name} -> ${dependency}`).toContain(dependency);
    }
  });

  it('gives the API and the worker real endpoints for every embedded default', () => {
    for (const name of ['api', 'worker']) {
      const env = compose.services[name]!.environment!;
      expect(env).toMatchObject({ NODE_ENV: 'production', TEMPORAL_ADDRESS: 'temporal:7233', SMTP_URL: 'smtp://mailpit:1025' });
      expect(String(env.DATABASE_URL)).toMatch(/^postgres:\/\/.+@postgres:5432\//);
      expect(String(env.LEADS_API_KEYS)).toContain('LEADS_API_KEYS');
    }
    expect(compose.services.api!.command).toEqual(['node', 'dist/src/server/main.js']);
    expect(compose.services.worker!.command).toEqual(['node', 'dist/worker/main.js']);
  });

  it('registers every search attribute the lead workflow upserts', () => {
    const command = JSON.stringify(compose.services['temporal-search-attributes']!.command);
    for (const key of leadSearchAttributes) expect(command).toContain(`--name ${key.name}`);
  });
});

describe('Dockerfile', () => {
  it('builds the entry points the compose file runs, without the embedded binaries', () => {
    expect(dockerfile).toContain('RUN npm run build');
    expect(dockerfile).toContain('LEADFLOW_SKIP_TEMPORAL_INSTALL=1');
    expect(dockerfile).toContain('npm ci --omit=dev');
  });
});
