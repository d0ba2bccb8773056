import { runEntryPoint } from './cli.js';

// `npm start`: the whole system in one process, on embedded defaults unless configured.
await runEntryPoint({
  name: 'all-in-one',
  description: 'Temporal dev server, PostgreSQL, SMTP sink, the worker and the HTTP API in one command',
  parts: { worker: true, api: true },
});
