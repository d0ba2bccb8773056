// The import rules of Leadflow, checked by `npm run deps` (part of `npm run lint`, so CI fails on
// a new circle or an upward import; test/unit/dependency-rules.test.ts shows each rule failing).
// Layers, lowest first: domain ← sequences ← infra ← leads ← server; src/worker.ts, src/stack.ts
// and the entry points wire them. Type-only imports count: a circle of types is still a circle.
//
// Real exceptions, encoded rather than hidden:
// - the domain uses the pure sequence model (src/sequences/{model,steps,delivery,weekdays}.ts:
//   no zod at run time in steps/delivery, no I/O); the rest of src/sequences may not be imported
//   by the domain.
// - infra reads the search-attribute definitions and the workflow type the workflows declare
//   (workflows/{search-attributes,messages}.ts);
//   leads start and signal workflows by their messages (workflows/{messages,lead,search-attributes}.ts).
// - campaign activities compile segments (src/leads/segment.ts) and ask leads through the lead
//   workflow's Update (workflows/messages.ts).
// - the CSV import's activity (activities/imports.ts) runs the leads' use cases (src/leads/), as the API does.
// - config.ts sits beside infra (it builds the payload codec; infra/temporal reads its type).
const SEQUENCE_MODEL = '^src/sequences/(model|steps|delivery|weekdays)\\.ts$';
const OWN = '^(src|workflows|activities|worker|console|bench|chaos|scripts|test)/';

/** A rule: modules under `from` may import only project files matching one of `allowed`. */
const only = (name, comment, from, allowed) => ({
  name,
  comment,
  severity: 'error',
  from: { path: from },
  to: { path: OWN, pathNot: allowed.join('|') },
});

module.exports = {
  forbidden: [
    { name: 'resolvable', comment: 'Every import resolves (an unresolved one would hide its edge from the rules).', severity: 'error', from: {}, to: { couldNotResolve: true } },
    { name: 'no-circular', comment: 'No import circles (type-only imports included).', severity: 'error', from: {}, to: { circular: true } },
    only('domain-is-the-bottom', 'The domain imports only the domain and the pure sequence model.', '^src/domain/', ['^src/domain/', SEQUENCE_MODEL]),
    only('sequences-over-domain', 'Sequences import only the domain and sequences.', '^src/sequences/', ['^src/(domain|sequences)/']),
    only('infra-over-sequences', 'Infra imports only domain, sequences, infra, the config and the search-attribute definitions.', '^src/infra/', [
      '^src/(domain|sequences|infra)/',
      '^src/config\\.ts$',
      '^workflows/(messages|search-attributes)\\.ts$',
    ]),
    only('leads-over-infra', 'Leads import only domain, sequences, infra, leads, the config and the workflow messages.', '^src/leads/', [
      '^src/(domain|sequences|infra|leads)/',
      '^src/config\\.ts$',
      '^workflows/(messages|lead|campaign|search-attributes)\\.ts$',
    ]),
    only('server-over-leads', 'The server imports only domain, sequences, infra, leads, server, the config and the CLI runner.', '^src/server/', [
      '^src/(domain|sequences|infra|leads|server)/',
      '^src/(config|cli)\\.ts$',
    ]),
    only('workflows-deterministic', 'Workflows import only the domain, the pure sequence model, workflows/ and the activity interface.', '^workflows/', [
      '^src/domain/',
      SEQUENCE_MODEL,
      '^workflows/',
      '^activities/types\\.ts$',
    ]),
    {
      name: 'workflows-activity-types-only',
      comment: 'Workflows see the activities as an interface only (proxyActivities), never their code.',
      severity: 'error',
      from: { path: '^workflows/' },
      to: { path: '^activities/', dependencyTypesNot: ['type-only'] },
    },
    only('activities-over-infra', 'Activities import only domain, sequences, infra, the segment compiler and the workflow messages (a campaign asks leads by their Update).', '^activities/(?!imports\\.ts$)', [
      '^src/(domain|sequences|infra)/',
      '^src/leads/segment\\.ts$',
      '^workflows/messages\\.ts$',
      '^activities/',
    ]),
    // The CSV import job creates leads and starts their workflows through the same use cases as the API.
    only('import-activity-over-leads', 'The import activity imports only domain, sequences, infra, leads and the activity types.', '^activities/imports\\.ts$', [
      '^src/(domain|sequences|infra|leads)/',
      '^activities/types\\.ts$',
    ]),
    only('src-never-into-worker', 'Nothing in src/ imports the deployment entry points of worker/.', '^src/', ['^src/', '^workflows/', '^activities/']),
    {
      name: 'console-types-only',
      comment: 'The console (browser bundle) shares only types with the server.',
      severity: 'error',
      from: { path: '^console/' },
      to: { path: '^(src|workflows|activities|worker)/', dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist|\\.temporal)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
