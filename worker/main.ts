import { runEntryPoint } from '../src/cli.js';

// Deployment entry point for a worker on task queues `leads` and `webhooks`; scale by running more of them.
await runEntryPoint({
  name: 'worker',
  description: 'a worker for task queues "leads" and "webhooks" (set TEMPORAL_ADDRESS, DATABASE_URL and SMTP_URL in deployment)',
  parts: { worker: true, api: false },
});
